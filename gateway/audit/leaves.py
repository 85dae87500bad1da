"""The audit log's leaves: versioned, canonical, metadata only.

A leaf is ``LEAF_PREFIX ‖ canonical JSON`` where the JSON object has sorted keys, no
white space and ASCII-only escapes, so that any implementation re-encodes it to the same
bytes. Keys are restricted to the ``FIELDS`` below and values to ids, codes, hex digests
and integers: there is no field that could carry a name, a place or free text, so a
leaf cannot hold personal data or ciphertext by construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

import orjson

from gateway.protocol.errors import Malformed

__all__ = ["CANONICAL_LEAF", "EVENT_TYPES", "FIELDS", "FIELD_ORDER", "LEAF_PREFIX", "USER_NAME",
           "canonical_leaf_pattern", "check_user_name", "decode_leaf", "encode_leaf"]

LEAF_PREFIX = b"blo-audit/v1\n"

#: event type -> glossary term (for the bilingual report)
EVENT_TYPES = {
    "gateway.started": "audit.gateway_started",
    "message.created": "audit.message_created",
    "message.sent": "audit.message_sent",
    "message.delivered": "audit.message_delivered",
    "message.dead": "audit.message_dead",
    "envelope.received": "audit.envelope_received",
    "envelope.rejected": "audit.envelope_rejected",
    "message.opened": "audit.message_opened",
    "user.login": "audit.user_login",
    "checkpoint.cosigned": "audit.checkpoint_cosigned",
    "witness.alert": "audit.witness_alert",
    "directory.accepted": "audit.directory_accepted",
    "roots.accepted": "audit.roots_accepted",
    "workflow.transition": "audit.workflow_transition",
    "message.shredded": "audit.message_shredded",
    # after a restore: we asked a peer to re-send / a restored peer asked us (wire §11)
    "redelivery.asked": "audit.redelivery_asked",
    "redelivery.requested": "audit.redelivery_requested",
    "user.added": "audit.user_added",
    "user.disabled": "audit.user_disabled",
    "user.enabled": "audit.user_enabled",
    "user.removed": "audit.user_removed",
    "token.revoked": "audit.token_revoked",
    "token.issued": "audit.token_issued",
    # the web app (gateway/node/web/): sign-in, sign-out, every refusal, credentials set
    "web.signin": "audit.web_signin",
    "web.signout": "audit.web_signout",
    "web.refused": "audit.web_refused",
    "web.password_set": "audit.web_password_set",
    "web.totp_enrolled": "audit.web_totp_enrolled",
    "web.sessions_ended": "audit.web_sessions_ended",
    # the courier bundle (gateway/node/courier.py): written for a peer, imported from one
    "courier.exported": "audit.courier_exported",
    "courier.imported": "audit.courier_imported",
    # the witness holds a peer's restored log at an earlier size again (blo-gateway witness
    # rebase, deploy/README.md "Backup and restore")
    "witness.rebased": "audit.witness_rebased",
}

_ID = re.compile(r"^[a-z0-9][a-z0-9._/:-]{0,127}\Z")
_HEX = re.compile(r"^[0-9a-f]{32,64}\Z")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}\Z")
_WORD = re.compile(r"^[a-z][a-z0-9_.]{0,39}\Z")
#: The one rule for officer API user names (``users add`` and the audit log's ``user``
#: field): it also names the token file ``private/tokens/<name>.token``, so no ``/``.
USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")

#: field -> validator. Only these may appear in a leaf.
FIELDS: dict[str, re.Pattern[str] | type] = {
    "v": int, "seq": int, "t": int, "type": _WORD,
    "office": _ID, "peer": _ID, "user": USER_NAME, "key_id": _ID, "origin": _ID,
    "message_id": _HEX, "message_type": _WORD, "envelope_sha256": _HEX,
    "receipt_sha256": _HEX, "directory_sha256": _HEX, "root": _HEX,
    "code": _CODE, "serial": int, "size": int, "received_at": int,
    "state_from": _WORD, "state_to": _WORD, "case_id": _HEX, "keys": list, "peers": list,
    "kind": _WORD, "since": int, "count": int,
    "session": _HEX,  # SHA-256 of a web session id: correlates sign-in, refusals, sign-out
    # courier bundles: the file's SHA-256, its sequence per (issuer, destination), counts
    "bundle_sha256": _HEX, "sequence": int, "envelopes": int, "receipts": int,
    "checkpoints": int,
    "held": int,  # witness.rebased: the size of the peer's log the witness held before
}


def _value_form(rule: re.Pattern[str] | type, group: bool) -> str:
    """The canonical JSON text of one field's valid values, as a regular expression: the
    digits of an integer, the text of a string, a list of ids as JSON; with ``group``, that
    text is the expression's one group."""
    o = "(" if group else "(?:"
    if rule is int:
        return o + r"0|[1-9][0-9]{0,17})"  # longer integers take the slow path
    if rule is list:
        item = _ID.pattern[1:-2]
        return o + rf'\[(?:"{item}"(?:,"{item}")*)?\])'
    if not (isinstance(rule, re.Pattern) and rule.pattern.endswith(r"\Z")):
        raise TypeError(f"no canonical form for the field rule {rule!r}")
    return f'"{o}{rule.pattern[1:-2]})"'  # no quote or backslash in any field's alphabet


#: The fields in canonical (sorted) order: the groups of ``CANONICAL_LEAF``.
FIELD_ORDER = tuple(sorted(FIELDS))


def canonical_leaf_pattern(groups: Collection[str] = FIELD_ORDER) -> str:
    """One canonical leaf as a regular expression, with a group for each field named in
    ``groups``, in ``FIELD_ORDER``.

    Each optional field is an alternation with the empty string whose first branch starts
    with a character of the key (the opening quote is matched before it): the regular
    expression engine then skips an absent field on one character, where ``(?:"key":...)?``
    cost a repeat and a backtracking frame for each of the ~30 fields (the verifier's hot
    loop ran twice as long)."""
    before = FIELD_ORDER[:FIELD_ORDER.index("type")]
    after = FIELD_ORDER[FIELD_ORDER.index("type") + 1:]
    types = "|".join(re.escape(t) for t in sorted(EVENT_TYPES))
    return ('\\{"'
            + "".join(f'(?:{k}":{_value_form(FIELDS[k], k in groups)},"|)' for k in before)
            + f'type":"{"(" if "type" in groups else "(?:"}{types})"'
            + "".join(f'(?:,"{k}":{_value_form(FIELDS[k], k in groups)}|)' for k in after)
            + "\\}")


#: One valid canonical leaf, whole (use ``fullmatch`` on the line decoded as latin-1): the
#: fast path of offline verification. It accepts only lines that ``decode_leaf`` accepts
#: (keys sorted, each at most once, ``type`` present, every value of its field's form);
#: a line it does not match is not necessarily bad and goes to ``decode_leaf``, which
#: decides and says why. Group k holds the text of field ``FIELD_ORDER[k]`` or None.
CANONICAL_LEAF = re.compile(canonical_leaf_pattern())


_STR_MATCH = {k: r.match for k, r in FIELDS.items() if isinstance(r, re.Pattern)}
_INTS = frozenset(k for k, r in FIELDS.items() if r is int)


def check_user_name(name: str) -> str:
    """``name`` if it is a valid user name, else ``Malformed`` saying what one looks like."""
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise Malformed("a user name is 1 to 64 characters: lower-case ASCII letters, digits, "
                        "'.', '-' and '_', starting with a letter or a digit")
    return name


def _check(key: str, value: Any) -> None:
    rule = FIELDS.get(key)
    if rule is None:
        raise Malformed(f"audit leaf field {key!r} is not allowed")
    if type(value) is str and rule.__class__ is re.Pattern:
        if not rule.match(value):
            raise Malformed(f"audit field {key} has a value of the wrong form")
        return
    if rule is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise Malformed(f"audit field {key} must be a non-negative integer")
    elif rule is list:
        if not isinstance(value, list) or not all(
                isinstance(v, str) and _ID.match(v) for v in value):
            raise Malformed(f"audit field {key} must be a list of ids")
    elif not isinstance(value, str) or not rule.match(value):  # type: ignore[union-attr]
        raise Malformed(f"audit field {key} has a value of the wrong form")


def encode_leaf(event: Mapping[str, Any]) -> bytes:
    """The canonical bytes of one event (the JSON part; prepend LEAF_PREFIX to hash it)."""
    if event.get("type") not in EVENT_TYPES:
        raise Malformed(f"unknown audit event type {event.get('type')!r}")
    for k, v in event.items():
        _check(k, v)
    # The field rules admit ASCII ids, codes, hex and integers only, for which orjson's
    # compact sorted output is byte-identical to the json module's (``decode_leaf`` relies
    # on the same); anything it cannot write that way (an integer over 64 bits) takes the
    # json module, so the bytes never depend on the encoder.
    try:
        # copied: the bytes orjson returns keep its whole output buffer (~4 KB each), and a
        # million leaves held at once (a bundle, a batch) then took 4 GB instead of 0.4
        out = memoryview(orjson.dumps(event if type(event) is dict else dict(event),
                                      option=orjson.OPT_SORT_KEYS)).tobytes()
    except TypeError:
        out = b""
    if not out.isascii() or not out:
        out = json.dumps(dict(event), sort_keys=True, separators=(",", ":"),
                         ensure_ascii=True).encode("ascii")
    return out


def decode_leaf(line: bytes) -> dict[str, Any]:
    """Parse and check one leaf; refuses anything that is not exactly canonical.

    orjson is used for speed (offline verification of millions of leaves); for the values
    a valid leaf may hold (ASCII ids, hex, codes, integers) its compact sorted output is
    byte-identical to ``encode_leaf``'s, and anything else fails the field checks."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise Malformed("audit leaf is not JSON") from e
    if not isinstance(obj, dict):
        raise Malformed("audit leaf is not an object")
    if orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) != line:
        raise Malformed("audit leaf is not in canonical form")
    if obj.get("type") not in EVENT_TYPES:
        raise Malformed(f"unknown audit event type {obj.get('type')!r}")
    for k, v in obj.items():  # the hot loop of offline verification: _check, inlined
        m = _STR_MATCH.get(k)
        if m is not None:
            if type(v) is not str or m(v) is None:
                raise Malformed(f"audit field {k} has a value of the wrong form")
        elif k in _INTS:
            if type(v) is not int or v < 0:
                raise Malformed(f"audit field {k} must be a non-negative integer")
        else:
            _check(k, v)
    return obj
