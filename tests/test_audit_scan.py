"""The verifier's fast leaf reader agrees with the reference decoder and the tree code.

``leaves.CANONICAL_LEAF`` must accept only what ``decode_leaf`` accepts, with the same field
values; ``merkle.grow_levels``/``levels_root`` must give the roots ``CompactRange`` gives;
and ``scan.scan_leaves`` on every core must give what one core gives, problems included.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit import scan
from gateway.audit.leaves import (
    CANONICAL_LEAF,
    EVENT_TYPES,
    FIELD_ORDER,
    FIELDS,
    decode_leaf,
    encode_leaf,
)
from gateway.audit.merkle import CompactRange, grow_levels, leaf_hash, levels_root
from gateway.protocol.errors import AuditEntryEdited, AuditSequenceBroken, GatewayError

OFFICE = "vn.laocai.blo"
HEX = st.text("0123456789abcdef", min_size=32, max_size=64)
ID = st.from_regex(r"\A[a-z0-9][a-z0-9._/:-]{0,20}\Z")
FIELD_VALUES = {
    "t": st.integers(0, 10**18 - 1), "seq": st.integers(0, 10**9), "v": st.just(1),
    "office": ID, "peer": ID, "key_id": ID, "message_id": HEX, "envelope_sha256": HEX,
    "receipt_sha256": HEX, "code": st.from_regex(r"\A[A-Z][A-Z0-9_]{0,10}\Z"),
    "peers": st.lists(ID, max_size=3), "state_to": st.from_regex(r"\A[a-z][a-z0-9_.]{0,10}\Z"),
}


def _fast(line: bytes) -> dict[str, object] | None:
    m = CANONICAL_LEAF.fullmatch(line.decode("latin-1"))
    if m is None:
        return None
    out: dict[str, object] = {}
    for k, v in zip(FIELD_ORDER, m.groups(), strict=True):
        if v is None:
            continue
        rule = FIELDS[k]
        out[k] = (int(v) if rule is int else [x for x in v[2:-2].split('","') if x]
                  if rule is list else v)
    return out


leaf_events = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(EVENT_TYPES))},
    optional=FIELD_VALUES)


@settings(max_examples=300, deadline=None)
@given(leaf_events)
def test_every_valid_leaf_takes_the_fast_path_with_the_same_fields(event: dict[str, object]
                                                                   ) -> None:
    line = encode_leaf(event)
    assert _fast(line) == decode_leaf(line) == event


@settings(max_examples=500, deadline=None)
@given(leaf_events, st.integers(0, 10**6), st.binary(min_size=1, max_size=3),
       st.sampled_from(["flip", "insert", "delete"]))
def test_the_fast_path_never_accepts_what_the_decoder_refuses(
        event: dict[str, object], at: int, junk: bytes, how: str) -> None:
    line = bytearray(encode_leaf(event))
    i = at % len(line)
    if how == "flip":
        line[i] ^= junk[0] or 1
    elif how == "insert":
        line[i:i] = junk
    else:
        del line[i:i + len(junk)]
    fast = _fast(bytes(line))
    try:
        slow: dict[str, object] | None = decode_leaf(bytes(line))
    except GatewayError:
        slow = None
    if fast is not None:
        assert fast == slow


@pytest.mark.parametrize("bad", [
    b'{"office":"vn.laocai.blo\\n","type":"gateway.started"}',  # an id ending in a newline
    b'{"type":"gateway.started","t":1}',  # keys out of order
    b'{"t":1,"t":1,"type":"gateway.started"}',  # a key twice
    b'{"t":-1,"type":"gateway.started"}',
    b'{"t":true,"type":"gateway.started"}',
    b'{"type":"gateway.started","name":"x"}',
    b'{"type":"no.such.event"}',
])
def test_lines_both_readers_refuse(bad: bytes) -> None:
    assert _fast(bad) is None
    with pytest.raises(GatewayError):
        decode_leaf(bad)


def test_tree_levels_give_the_compact_range_roots() -> None:
    rng = random.Random(7)
    hashes = [leaf_hash(rng.randbytes(20)) for _ in range(700)]
    levels = grow_levels([b"".join(hashes)])
    edge = CompactRange()
    assert levels_root(levels, 0) == edge.root()
    for size, h in enumerate(hashes, 1):
        edge.append(h)
        assert levels_root(levels, size) == edge.root()
    with pytest.raises(GatewayError):
        levels_root(levels, 701)
    chunks = [grow_levels([b"".join(hashes[s:s + 128])]) for s in range(0, 700, 128)]
    joined = [b"".join(c[k] for c in chunks if len(c) > k) for k in range(8)]
    assert grow_levels(joined) == levels


def _lines(n: int) -> list[bytes]:
    return [encode_leaf({"v": 1, "seq": i, "office": OFFICE, "t": 1000 + i,
                         "type": "message.created" if i % 3 else "message.opened",
                         "message_id": f"{i:032x}", "envelope_sha256": f"{i:064x}",
                         "peers": ["cn.yunnan.hekou.blo"]}) for i in range(n)]


@pytest.mark.parametrize("damage", ["none", "edited", "reordered", "slow_form"])
def test_every_core_gives_what_one_core_gives(monkeypatch: pytest.MonkeyPatch,
                                              damage: str) -> None:
    lines = _lines(5000)
    if damage == "edited":
        lines[3001] = lines[3001].replace(b'"t":', b'"t" :')
    elif damage == "reordered":
        lines[4100], lines[4101] = lines[4101], lines[4100]
    elif damage == "slow_form":  # a valid leaf the fast pattern leaves to the decoder
        lines[2500] = encode_leaf({"v": 1, "seq": 2500, "office": OFFICE,
                                   "t": 10**19, "type": "gateway.started"})
    one = scan.scan_leaves(lines, OFFICE)
    monkeypatch.setattr(scan, "_PARALLEL_FROM", 0)
    many = scan.scan_leaves(lines, OFFICE)
    assert many == one
    assert one.levels[0] == b"".join(leaf_hash(b"blo-audit/v1\n" + x) for x in lines)
    expected = {"none": None, "slow_form": None, "edited": AuditEntryEdited,
                "reordered": AuditSequenceBroken}[damage]
    assert (one.problem[0] if one.problem else None) is expected
    created = [e for e in one.events() if e[scan.TYPE] == "message.created"]
    assert len(created) == sum(1 for i in range(5000) if i % 3) - (damage in ("slow_form",
                                                                          "edited"))
    assert created[0] == ("message.created", "", ("cn.yunnan.hekou.blo",), f"{1:032x}",
                          f"{1:064x}", "")


@settings(max_examples=300, deadline=None)
@given(leaf_events, st.sampled_from([0, 2**63, 2**64, 10**30]))
def test_encode_leaf_writes_the_json_modules_canonical_bytes(event: dict[str, object],
                                                             big: int) -> None:
    """``encode_leaf`` writes with orjson for speed: its bytes must be exactly the canonical
    form of the json module (sorted keys, no white space, ASCII escapes), whatever the valid
    event, integers past 64 bits included (those take the json module)."""
    import json

    for ev in (event, {**event, "seq": big}):
        assert encode_leaf(ev) == json.dumps(ev, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=True).encode("ascii")
