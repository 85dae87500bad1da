"""The inbox: envelopes received from peers, the receipts we gave, who opened what.

``receive`` applies ``protocol.workflow.transition`` in its transaction (see ``cases`` for
why the decision is not taken out of the write yet)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from gateway.protocol.errors import Replay
from gateway.protocol.messages import MessageType
from gateway.protocol.workflow import InvalidTransition, transition
from gateway.store.cases import _Steps, _type_slug, deadline_for
from gateway.store.courier import CourierMixin
from gateway.store.keys import StorageKeysMixin, _plain_row
from gateway.store.rows import BundleClaim, Incoming, ReceiveResult
from gateway.store.tables import content_keys, envelopes, inbox, nonces, receipts

__all__ = ["InboxMixin"]

# The statements of ``receive``, built once: building a Core statement costs some ten times
# what executing a built one does, and a lone envelope's transaction runs each once.
_NONCE_SEEN = sa.select(nonces.c.nonce).where(nonces.c.peer == sa.bindparam("peer"),
                                               nonces.c.nonce == sa.bindparam("nonce"))
_NONCE_ADD = sa.insert(nonces).values(peer=sa.bindparam("peer"), nonce=sa.bindparam("nonce"),
                                      expires_ms=sa.bindparam("expires"))
# Both columns of the unique index (sender, message_id): on message_id alone the database
# scans every envelope it holds, at every batch.
_KNOWN = sa.select(envelopes.c.id, envelopes.c.sender, envelopes.c.message_id,
                   envelopes.c.sha256).where(
    envelopes.c.sender.in_(sa.bindparam("senders", expanding=True)),
    envelopes.c.message_id.in_(sa.bindparam("ids", expanding=True)))
_ISSUED = sa.select(receipts.c.envelope_id, receipts.c.raw).where(
    receipts.c.envelope_id.in_(sa.bindparam("ids", expanding=True)),
    receipts.c.office == sa.bindparam("me"))


class InboxMixin(StorageKeysMixin, CourierMixin):
    """Receiving (idempotent, with receipts) and the officer's inbox."""

    def receive(self, items: Sequence[Incoming], *, now_ms: int,
                sign_receipt: Callable[[Incoming, int], bytes], me: str,
                nonce: tuple[str, str, int] | None = None,
                events: Sequence[dict[str, Any]] = (),
                bundle: BundleClaim | None = None) -> list[ReceiveResult]:
        """Dedupe on (sender, message id), store new envelopes and their receipts, atomically;
        with ``nonce`` (peer, nonce, expiry) the request's nonce too: a replay raises Replay
        and stores nothing. ``events`` are further audit events of the same request. With
        ``bundle`` (a courier import) the bundle is claimed in the same transaction (a replay
        or an older bundle raises and stores nothing) and the receipts of the envelopes stored
        or already held are owed to its issuer (``courier``)."""
        out: list[ReceiveResult | None] = [None] * len(items)
        with self._tx() as (c, ev):
            if nonce is not None:
                peer, value, expires = nonce
                if c.execute(_NONCE_SEEN, {"peer": peer, "nonce": value}).first() is not None:
                    raise Replay("this request was already received (same nonce)")
                c.execute(_NONCE_ADD, {"peer": peer, "nonce": value, "expires": expires})
            ev.extend(events)
            known: dict[tuple[str, bytes], tuple[int, bytes]] = {}
            for row in c.execute(_KNOWN, {"senders": sorted({e.sender for e in items}),
                                          "ids": sorted({e.message_id for e in items})}):
                known[(row.sender, row.message_id)] = (row.id, row.sha256)
            fresh: list[tuple[int, Incoming, bytes]] = []
            steps = _Steps(c, self)
            for i, env in enumerate(items):
                key = (env.sender, env.message_id)
                if key in known:
                    continue
                try:
                    step = transition(
                        message_id=env.message_id.hex(),
                        message_type=MessageType(env.message_type), step=env.workflow_step,
                        in_reply_to=env.in_reply_to,
                        current=steps.current(env.in_reply_to) if env.in_reply_to else None)
                except InvalidTransition as e:
                    out[i] = ReceiveResult("invalid", b"", e.message)
                    ev.append({"t": now_ms, "type": "envelope.rejected", "peer": env.sender,
                               "message_id": env.message_id.hex(),
                               "envelope_sha256": env.sha256.hex(), "code": e.code})
                    continue
                if step is not None:
                    steps.add(ev, step, env, env.sender, env.sender, now_ms,
                              env.deadline_ms or deadline_for(env, now_ms, self.deadline_hours))
                receipt = sign_receipt(env, now_ms)
                known[key] = (-1 - len(fresh), env.sha256)  # a repeat within this batch
                fresh.append((i, env, receipt))
            steps.flush()
            ids = self._insert_envelopes(c, [(e, now_ms, None) for _, e, _ in fresh], "in")
            if fresh:
                self._insert_rows(c, inbox, ("envelope_id", "received_at_ms"),
                                  [(eid, now_ms) for eid in ids])
                self._insert_rows(c, receipts, (
                    "envelope_id", "office", "direction", "raw", "received_at_ms"),
                    [(eid, me, "issued", r, now_ms)
                     for eid, (_, _, r) in zip(ids, fresh, strict=True)])
            for (i, env, receipt) in fresh:
                out[i] = ReceiveResult("accepted", receipt)
                ev.append({"t": now_ms, "type": "envelope.received", "peer": env.sender,
                           "message_id": env.message_id.hex(),
                           "message_type": _type_slug(env.message_type),
                           "envelope_sha256": env.sha256.hex(),
                           "receipt_sha256": hashlib.sha256(receipt).hexdigest()})
            stored = {eid for eid, _ in known.values() if eid > 0}
            receipt_of = {r.envelope_id: r.raw for r in c.execute(
                _ISSUED, {"ids": sorted(stored), "me": me})} if stored else {}
            fresh_receipt = {-1 - n: r for n, (_, _, r) in enumerate(fresh)}
            for i, env in enumerate(items):
                if out[i] is not None:
                    continue
                eid, sha = known[(env.sender, env.message_id)]
                if not hmac.compare_digest(sha, env.sha256):
                    out[i] = ReceiveResult("conflict", b"")
                    ev.append({"t": now_ms, "type": "envelope.rejected", "peer": env.sender,
                               "message_id": env.message_id.hex(),
                               "envelope_sha256": env.sha256.hex(), "code": "CONFLICT"})
                else:
                    raw = receipt_of.get(eid, b"") if eid > 0 else fresh_receipt[eid]
                    out[i] = ReceiveResult("duplicate", raw)
            if bundle is not None:
                owed = []
                for i, env in enumerate(items):
                    res = out[i]
                    if res is not None and res.status in ("accepted", "duplicate"):
                        eid = known[(env.sender, env.message_id)][0]
                        owed.append(eid if eid > 0 else ids[-1 - eid])
                self._claim_bundle(c, bundle, now_ms, owed)
        return [r for r in out if r is not None]

    def list_inbox(self, limit: int) -> list[dict[str, Any]]:
        q = (sa.select(envelopes.c.message_id, envelopes.c.sender, envelopes.c.message_type,
                       envelopes.c.created_at_ms, envelopes.c.case_reference,
                       envelopes.c.priority, envelopes.c.handling_code, envelopes.c.deadline_ms,
                       inbox.c.received_at_ms, inbox.c.opened_at_ms, inbox.c.opened_by)
             .join(inbox, inbox.c.envelope_id == envelopes.c.id)
             .order_by(inbox.c.id.desc()).limit(limit))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def inbox_envelope(self, message_id: bytes) -> list[dict[str, Any]]:
        q = (sa.select(envelopes.c.id, envelopes.c.raw, envelopes.c.sender,
                       envelopes.c.stored_at_ms, envelopes.c.shredded_at_ms, content_keys.c.key,
                       envelopes.c.message_type, inbox.c.id.label("iid"))
             .join(inbox, inbox.c.envelope_id == envelopes.c.id)
             .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
             .where(envelopes.c.message_id == message_id))
        with self.engine.connect() as c:
            return [_plain_row(r) for r in c.execute(q)]

    def mark_opened(self, inbox_id: int, user: str, now_ms: int, *, message_id: bytes,
                    sender: str) -> None:
        """Record a read: the first reader in the inbox, every read in the audit log."""
        with self._tx() as (c, ev):
            c.execute(sa.update(inbox).where(inbox.c.id == inbox_id, inbox.c.opened_at_ms.is_(None))
                      .values(opened_at_ms=now_ms, opened_by=user))
            ev.append({"t": now_ms, "type": "message.opened", "user": user, "peer": sender,
                       "message_id": message_id.hex()})

    def envelope_by_id(self, message_id: bytes) -> dict[str, Any] | None:
        """The stored envelope with this id (sent or received) and its storage time."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(envelopes.c.raw, envelopes.c.sender,
                                      envelopes.c.stored_at_ms, envelopes.c.direction,
                                      envelopes.c.message_type, envelopes.c.shredded_at_ms,
                                      content_keys.c.key)
                            .outerjoin(content_keys,
                                       content_keys.c.envelope_id == envelopes.c.id)
                            .where(envelopes.c.message_id == message_id)).first()
        return _plain_row(row) if row else None
