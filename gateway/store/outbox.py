"""The outbox: what we sealed, queued per peer, with attempts and receipts."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from gateway.protocol.messages import Priority
from gateway.store.cases import _Steps, _type_slug
from gateway.store.idempotency import IdempotencyMixin
from gateway.store.keys import AT_REST_OVERHEAD, StorageKeysMixin, open_at_rest
from gateway.store.rows import Due, Incoming, OutboxItem, Submission
from gateway.store.tables import content_keys, envelopes, outbox, receipts

__all__ = ["OutboxMixin"]


def _due_page(prio: Any, after: Any) -> sa.Select[Any]:
    """The due rows of one priority after outbox id ``after``, the first ``n`` in id order:
    a search of the index ``ix_outbox_due`` (peer, state, priority, id)."""
    return (sa.select(outbox.c.id, outbox.c.priority, outbox.c.envelope_id, outbox.c.attempts,
                      envelopes.c.message_id, envelopes.c.sha256, envelopes.c.raw,
                      envelopes.c.expires_at_ms, envelopes.c.stored_at_ms,
                      envelopes.c.in_reply_to, content_keys.c.key)
            .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
            .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
            .where(outbox.c.peer == sa.bindparam("peer"), outbox.c.state == "queued",
                   outbox.c.priority == prio, outbox.c.id > after,
                   outbox.c.id.not_in(sa.bindparam("flying", expanding=True)),
                   outbox.c.next_attempt_ms <= sa.bindparam("now"))
            .order_by(outbox.c.id).limit(sa.bindparam("n")))


#: The next page of one priority; and the first page of every priority in one statement
#: (each read through the index as above: a priority with nothing due costs no round trip).
_DUE = _due_page(sa.bindparam("prio"), sa.bindparam("after"))
_DUE_FIRST = sa.union_all(*(sa.select(_due_page(int(p), 0).subquery())
                            for p in sorted(Priority, reverse=True)))
# ``next_due_ms`` and ``record_results``, built once (see ``inbox``).
_NEXT_DUE = sa.select(sa.func.min(outbox.c.next_attempt_ms)).where(
    outbox.c.peer == sa.bindparam("peer"), outbox.c.state == "queued")
_NEXT_DUE_AFTER = _NEXT_DUE.where(outbox.c.next_attempt_ms > sa.bindparam("after"))
_OID = sa.bindparam("oid", type_=sa.BigInteger)
_DELIVERED = (sa.update(outbox).where(outbox.c.id == _OID, outbox.c.state == "queued")
              .values(state="delivered", delivered_at_ms=sa.bindparam("now"),
                      updated_at_ms=sa.bindparam("now"), attempts=outbox.c.attempts + 1,
                      last_error_code=None, last_error=None))
_RETRY = sa.update(outbox).where(outbox.c.id == _OID).values(
    attempts=outbox.c.attempts + 1, next_attempt_ms=sa.bindparam("next_ms"),
    last_error_code=sa.bindparam("code"), last_error=sa.bindparam("msg"),
    updated_at_ms=sa.bindparam("now"))
_DEAD = sa.update(outbox).where(outbox.c.id == _OID).values(
    state="dead", attempts=outbox.c.attempts + 1, last_error_code=sa.bindparam("code"),
    last_error=sa.bindparam("msg"), updated_at_ms=sa.bindparam("now"))
#: pages of one priority ``due`` reads at most in one call (past replies that wait)
_SCAN_PAGES = 8
# The outbox row, for the same peer, of a message of ours (by its id): a reply waits for it.
_ORIGINAL = (sa.select(outbox.c.id, outbox.c.state)
             .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
             .where(envelopes.c.sender == sa.bindparam("me"),
                    envelopes.c.message_id == sa.bindparam("mid"),
                    outbox.c.peer == sa.bindparam("peer")))


class OutboxMixin(StorageKeysMixin, IdempotencyMixin):
    """Submissions (group commit), the delivery queue and the sender's views."""

    def submit(self, env: Incoming, peers: Sequence[str], *, now_ms: int,
               submitted_by: str | None) -> None:
        """Store a sealed envelope and one outbox row per peer, atomically."""
        self.submit_many([Submission(env, tuple(peers), now_ms, submitted_by)])

    def submit_many(self, items: Sequence[Submission]) -> None:
        """Several submissions in one transaction (group commit); all or none are stored."""
        with self._tx() as (c, ev):
            ids = self._insert_envelopes(c, [(s.envelope, s.now_ms, s.submitted_by)
                                             for s in items], "out")
            # A submission without a user (none today) leaves the field out rather than
            # writing a placeholder the audit log's user-name rule refuses.
            ev.extend({"t": s.now_ms, "type": "message.created",
                       **({"user": s.submitted_by} if s.submitted_by else {}),
                       "message_id": s.envelope.message_id.hex(),
                       "message_type": _type_slug(s.envelope.message_type),
                       "envelope_sha256": s.envelope.sha256.hex(), "peers": list(s.peers)}
                      for s in items)
            steps = _Steps(c, self)
            for s in items:
                if s.step is not None:
                    steps.add(ev, s.step, s.envelope, self.office_id, s.peers[0], s.now_ms,
                              s.deadline_ms)
            steps.flush()
            self._insert_rows(c, outbox, (
                "envelope_id", "peer", "state", "priority", "attempts", "next_attempt_ms",
                "updated_at_ms"), [(eid, p, "queued", s.envelope.priority, 0, 0, s.now_ms)
                                   for eid, s in zip(ids, items, strict=True)
                                   for p in s.peers])
            self._record_answers(c, items)  # the Idempotency-Key rows, in this transaction

    def due(self, peer: str, now_ms: int, limit: int,
            exclude: Collection[int] = (), max_bytes: int | None = None) -> list[OutboxItem]:
        """Queued items for ``peer`` whose time has come: urgent first, then oldest; not
        those in ``exclude`` (outbox ids in flight); at most ``limit`` of them and, with
        ``max_bytes``, no more than fit in a delivery request of that many bytes (each
        envelope framed with its 4-byte length; the first is taken whatever its size).

        Read in the order of the index ``ix_outbox_due`` (peer, state, priority, id), each
        priority on its own, highest first (the first page of every priority in one
        statement, a page of ``limit`` each; the next pages one priority at a time): a single
        ``ORDER BY priority DESC, id`` would make the database sort the whole backlog of a
        priority (and SQLite read every queued envelope of it) to return the first
        ``limit``, at every batch. Every stored priority
        is a ``Priority`` (the envelope header refuses any other value). Behind a backlog, an
        urgent message waits for the batches in flight and then goes in the next one.

        A reply of ours to a message of ours (a cancellation of our own proposal, the
        signature that follows our handover record) is not due while that message is still
        queued for the same peer, in flight or not: the peer refuses a reply to a message it
        has not stored (``INVALID_TRANSITION``, for good), so a reply never travels before
        the message it answers is delivered, whatever their priorities. Such replies do not
        hold back the rows behind them: a priority is read on, a page at a time, up to
        ``_SCAN_PAGES`` pages a call."""
        return self._due(peer, now_ms, limit, exclude, max_bytes).items

    def _due(self, peer: str, now_ms: int, limit: int, exclude: Collection[int],
             max_bytes: int | None) -> Due:
        out: list[OutboxItem] = []
        size = 0  # of the delivery request these items make (``frame_batch``)
        flying = sorted(exclude)  # left out by the query: their envelopes are not read
        args = {"peer": peer, "now": now_ms, "flying": flying}
        with self.engine.connect() as c:
            first: dict[int, list[Any]] = {}
            for r in c.execute(_DUE_FIRST, {**args, "n": limit}):
                first.setdefault(r.priority, []).append(r)
            for prio in sorted(Priority, reverse=True):
                after, n = 0, limit
                rows: Sequence[Any] = sorted(first.get(prio, []), key=lambda r: r.id)
                for page in range(_SCAN_PAGES):
                    if len(out) >= limit:
                        return Due(out, full=True)
                    if page:
                        n = limit - len(out)
                        rows = c.execute(_DUE, {**args, "prio": int(prio), "after": after,
                                                "n": n}).all()
                    for r in rows:
                        if len(out) >= limit:
                            return Due(out, full=True)
                        after = r.id
                        if r.in_reply_to and self._waits_for_original(c, peer, r.in_reply_to):
                            continue
                        framed = 4 + len(r.raw) - AT_REST_OVERHEAD  # the envelope's length
                        if max_bytes is not None and out and size + framed > max_bytes:
                            return Due(out, full=True)
                        size += framed
                        out.append(OutboxItem(r.id, r.envelope_id, peer, r.message_id,
                                              r.sha256, open_at_rest(r.key, r.raw),
                                              r.expires_at_ms, r.attempts, r.stored_at_ms))
                    if len(rows) < n:
                        break  # this priority has no more due rows
        return Due(out, full=len(out) >= limit)

    def due_or_next(self, peer: str, now_ms: int, limit: int, exclude: Collection[int] = (),
                    max_bytes: int | None = None) -> Due:
        """``due`` (whether it stopped at a limit in ``full``), and when it finds nothing,
        when to look again: the time the next queued row is due (``next_due_ms``) and, if
        that has passed (replies that wait), the next one due after now. The delivery
        worker's one read of the queue per step (one trip to the reader thread instead of
        three)."""
        due = self._due(peer, now_ms, limit, exclude, max_bytes)
        if due.items:
            return due
        nxt = self.next_due_ms(peer)
        return Due([], next_ms=nxt, later_ms=(self.next_due_ms(peer, now_ms)
                                              if nxt is not None and nxt <= now_ms else None))

    def _waits_for_original(self, c: sa.Connection, peer: str, in_reply_to: str) -> bool:
        """Whether a reply to ``in_reply_to`` must wait: it names a message of ours still
        queued (or in flight) for ``peer``."""
        try:
            mid = bytes.fromhex(in_reply_to)
        except ValueError:
            return False
        row = c.execute(_ORIGINAL, {"me": self.office_id, "mid": mid, "peer": peer}).first()
        return row is not None and row.state == "queued"

    def next_due_ms(self, peer: str, after_ms: int | None = None) -> int | None:
        """When the next queued row for ``peer`` is due (None: none is queued); with
        ``after_ms``, the next one due after it (the rows due by then were offered to
        ``due``: what it did not take waits for a message in flight or backing off)."""
        with self.engine.connect() as c:
            v = (c.execute(_NEXT_DUE, {"peer": peer}) if after_ms is None else
                 c.execute(_NEXT_DUE_AFTER, {"peer": peer, "after": after_ms})).scalar()
            return int(v) if v is not None else None

    def record_results(self, peer: str, *, now_ms: int,
                       delivered: Iterable[tuple[int, int, bytes, int]],
                       retry: Iterable[tuple[int, int, str, str]],
                       dead: Iterable[tuple[int, str, str]],
                       items: Sequence[OutboxItem] = ()) -> None:
        """One transaction: delivered (outbox id, envelope id, receipt, received at),
        retry (outbox id, next attempt, code, message), dead (outbox id, code, message).
        ``items`` are the outbox items concerned, for the audit log."""
        delivered, retry, dead = list(delivered), list(retry), list(dead)
        by_id = {i.outbox_id: i for i in items}
        with self._tx() as (c, ev):
            for i in items:
                if i.attempts == 0 and not any(d[0] == i.outbox_id for d in dead
                                               if d[1] == "EXPIRED"):
                    ev.append({"t": now_ms, "type": "message.sent", "peer": peer,
                               "message_id": i.message_id.hex(),
                               "envelope_sha256": i.sha256.hex()})
            for o, _, raw, at in delivered:
                if o in by_id:
                    ev.append({"t": now_ms, "type": "message.delivered", "peer": peer,
                               "message_id": by_id[o].message_id.hex(),
                               "envelope_sha256": by_id[o].sha256.hex(),
                               "receipt_sha256": hashlib.sha256(raw).hexdigest(),
                               "received_at": at})
            for o, code, _ in dead:
                if o in by_id:
                    ev.append({"t": now_ms, "type": "message.dead", "peer": peer,
                               "message_id": by_id[o].message_id.hex(),
                               "envelope_sha256": by_id[o].sha256.hex(), "code": code})
            if delivered:
                c.execute(_DELIVERED, [{"oid": d[0], "now": now_ms} for d in delivered])
                self._insert_rows(c, receipts, (
                    "envelope_id", "office", "direction", "raw", "received_at_ms"),
                    [(eid, peer, "received", raw, at) for _, eid, raw, at in delivered],
                    ignore=True)
            if retry:
                c.execute(_RETRY, [{"oid": o, "next_ms": n, "code": code, "msg": m[:300],
                                    "now": now_ms} for o, n, code, m in retry])
            if dead:
                c.execute(_DEAD, [{"oid": o, "code": code, "msg": m[:300], "now": now_ms}
                                  for o, code, m in dead])

    def requeue_delivered(self, peer: str, since_ms: int, now_ms: int) -> int:
        """``peer`` was restored from a backup and lost what we delivered since ``since_ms``
        (our clock): queue again every message delivered to it since then that is neither
        expired nor shredded. Its store takes each message id once, so what it still holds
        comes back as a duplicate with its stored receipt. Returns how many; audited."""
        with self._tx() as (c, ev):
            ids = sa.select(outbox.c.id).join(envelopes, envelopes.c.id == outbox.c.envelope_id
                                              ).where(
                outbox.c.peer == peer, outbox.c.state == "delivered",
                outbox.c.delivered_at_ms >= since_ms, envelopes.c.expires_at_ms > now_ms,
                envelopes.c.shredded_at_ms.is_(None))
            n = c.execute(sa.update(outbox).where(outbox.c.id.in_(ids.scalar_subquery()))
                          .values(state="queued", next_attempt_ms=0, updated_at_ms=now_ms)
                          ).rowcount
            ev.append({"t": now_ms, "type": "redelivery.requested", "peer": peer,
                       "since": since_ms, "count": n})
        return int(n)

    def message_status(self, message_id: bytes, sender: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            env = c.execute(sa.select(envelopes).where(envelopes.c.sender == sender,
                                                       envelopes.c.message_id == message_id)
                            ).first()
            if env is None:
                return None
            rows = c.execute(sa.select(outbox).where(outbox.c.envelope_id == env.id)
                             .order_by(outbox.c.peer)).all()
            recs = {r.office: r for r in c.execute(sa.select(receipts).where(
                receipts.c.envelope_id == env.id))}
        return {"envelope": dict(env._mapping), "deliveries": [
            {**dict(r._mapping), "receipt": recs[r.peer].raw if r.peer in recs else None,
             "receipt_at_ms": recs[r.peer].received_at_ms if r.peer in recs else None}
            for r in rows]}

    def list_outgoing(self, limit: int, sender: str) -> list[dict[str, Any]]:
        q = (sa.select(envelopes.c.id, envelopes.c.message_id, envelopes.c.message_type,
                       envelopes.c.recipients, envelopes.c.created_at_ms,
                       envelopes.c.case_reference, envelopes.c.priority)
             .where(envelopes.c.direction == "out", envelopes.c.sender == sender)
             .order_by(envelopes.c.id.desc()).limit(limit))
        with self.engine.connect() as c:
            envs = [dict(r._mapping) for r in c.execute(q)]
            ids = [e["id"] for e in envs]
            states: dict[int, list[tuple[str, str]]] = {}
            if ids:
                for r in c.execute(sa.select(outbox.c.envelope_id, outbox.c.peer,
                                             outbox.c.state).where(outbox.c.envelope_id.in_(ids))):
                    states.setdefault(r.envelope_id, []).append((r.peer, r.state))
        for e in envs:
            e["states"] = dict(states.get(e["id"], []))
        return envs
