"""The audit log as stored: the tree, checkpoints, cosignatures, what we witnessed, alerts.

Leaves are appended by the unit of work (``engine.StoreBase._tx``); this module reads the
tree for proofs and records checkpoints and cosignatures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gateway.audit.merkle import consistency_proof, inclusion_proof, root_hash
from gateway.protocol.errors import Conflict, NotFound
from gateway.store.engine import StoreBase, _DbTree
from gateway.store.tables import (
    audit_alerts,
    audit_checkpoints,
    audit_leaves,
    witness_log,
    witnessed_by,
)

__all__ = ["AuditLogMixin"]


class AuditLogMixin(StoreBase):
    """The audit tree, checkpoints, cosignatures and alerts."""

    def audit(self, events: Sequence[dict[str, Any]]) -> None:
        """Record events that are not part of another write."""
        with self._tx() as (_, ev):
            ev.extend(events)

    def audit_head(self) -> tuple[int, bytes]:
        with self.engine.connect() as c:
            edge = self._load_edge(c)
            return edge.size, edge.root()

    def audit_consistency(self, old: int, new: int) -> list[bytes]:
        with self.engine.connect() as c:
            return consistency_proof(_DbTree(c), old, new)

    def audit_inclusion(self, index: int, size: int) -> tuple[bytes, list[bytes]]:
        with self.engine.connect() as c:
            data = c.execute(sa.select(audit_leaves.c.data).where(
                audit_leaves.c.idx == index)).scalar()
            if data is None or index >= size:
                raise NotFound(f"no audit entry {index} in a log of size {size}")
            return bytes(data), inclusion_proof(_DbTree(c), index, size)

    def audit_root(self, size: int) -> bytes:
        with self.engine.connect() as c:
            return root_hash(_DbTree(c), size)

    def add_checkpoint(self, size: int, root: bytes, note: str, now_ms: int) -> int:
        with self.engine.begin() as c:
            res = c.execute(sa.insert(audit_checkpoints).values(
                size=size, root=root, note=note, created_ms=now_ms))
            pk = res.inserted_primary_key
            assert pk is not None
            return int(pk[0])

    def add_cosignature(self, checkpoint_id: int, peer: str, size: int, line: str,
                        now_ms: int) -> None:
        with self.engine.begin() as c:
            note = c.execute(sa.select(audit_checkpoints.c.note).where(
                audit_checkpoints.c.id == checkpoint_id)).scalar_one()
            # one cosignature per witness on a checkpoint: a second request that raced the
            # first (the checkpointer and an explicit round) adds no second pair of lines
            witness = line.split("\n", 1)[0].rsplit(" ", 1)[0] + " "
            if witness not in note:
                c.execute(sa.update(audit_checkpoints).where(
                    audit_checkpoints.c.id == checkpoint_id).values(note=note + line))
            n = c.execute(sa.update(witnessed_by).where(witnessed_by.c.peer == peer)
                          .values(size=size, updated_ms=now_ms)).rowcount
            if n == 0:
                c.execute(sa.insert(witnessed_by).values(peer=peer, size=size,
                                                         updated_ms=now_ms))

    def audit_only_types(self, start: int, end: int, types: frozenset[str],
                         limit: int = 256) -> bool:
        """Whether every entry in ``[start, end)`` is of one of ``types`` (False, without
        reading, for a range over ``limit`` entries)."""
        if end - start > limit:
            return False
        with self.engine.connect() as c:
            rows = c.execute(sa.select(audit_leaves.c.data).where(
                audit_leaves.c.idx >= start, audit_leaves.c.idx < end)).scalars().all()
        return len(rows) == end - start and all(
            json.loads(bytes(d)).get("type") in types for d in rows)

    def witness_rebase(self, origin: str, at_most: int, now_ms: int) -> dict[str, Any]:
        """Make the newest checkpoint of ``origin``'s log that we cosigned with a size of at
        most ``at_most`` the one we hold again (after the offices agreed that the log was
        restored from a backup of that size): the next checkpoint of that log is accepted
        if it extends it, with the usual consistency proof. An audit leaf
        ``witness.rebased`` records the size we held and the one we hold now; the alert and
        every earlier cosignature stay. ``NOT_FOUND`` if we never cosigned such a size,
        ``CONFLICT`` if it is the one we hold."""
        with self._tx() as (c, ev):
            if self.engine.dialect.name == "postgresql":
                c.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended("
                                  "'blo-gateway witness ' || current_schema() || ' ' "
                                  "|| :origin, 0))"), {"origin": origin})
            held = c.execute(sa.select(witness_log.c.size).where(witness_log.c.origin == origin)
                             .order_by(witness_log.c.id.desc()).limit(1)).scalar()
            if held is None:
                raise NotFound(f"this gateway never cosigned a checkpoint of {origin}")
            row = c.execute(sa.select(witness_log).where(
                witness_log.c.origin == origin, witness_log.c.size <= at_most).order_by(
                witness_log.c.size.desc(), witness_log.c.id.desc()).limit(1)).first()
            if row is None:
                raise NotFound(f"this gateway cosigned no checkpoint of {origin} of size "
                               f"{at_most} or less")
            if int(row.size) == int(held):
                raise Conflict(f"this gateway holds {origin} at size {held} already")
            c.execute(sa.insert(witness_log).values(origin=origin, size=row.size, root=row.root,
                                                    note=row.note, created_ms=now_ms))
            ev.append({"t": now_ms, "type": "witness.rebased", "origin": origin,
                       "size": int(row.size), "root": bytes(row.root).hex(),
                       "held": int(held)})
        return {"origin": origin, "held": int(held), "size": int(row.size)}

    def audit_due_size(self, types: frozenset[str], limit: int = 256) -> int:
        """The log's size without its trailing run of entries of ``types`` (at most
        ``limit`` of them are looked at): what a checkpoint must cover now."""
        with self.engine.connect() as c:
            size = self._load_edge(c).size
            rows = c.execute(sa.select(audit_leaves.c.data).where(
                audit_leaves.c.idx >= max(0, size - limit)).order_by(
                audit_leaves.c.idx.desc())).scalars().all()
        for data in rows:
            if json.loads(bytes(data)).get("type") not in types:
                break
            size -= 1
        return size

    def witnessed_size(self, peer: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(witnessed_by.c.size).where(
                witnessed_by.c.peer == peer)).scalar() or 0)

    def checkpoint_created_ms(self, checkpoint_id: int) -> int:
        """When we signed checkpoint ``checkpoint_id`` (our clock)."""
        with self.engine.connect() as c:
            return int(c.execute(sa.select(audit_checkpoints.c.created_ms).where(
                audit_checkpoints.c.id == checkpoint_id)).scalar_one())

    def latest_checkpoint(self) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(audit_checkpoints).order_by(
                audit_checkpoints.c.id.desc()).limit(1)).first()
            return dict(row._mapping) if row else None

    def witness_latest(self, origin: str) -> tuple[int, bytes] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(witness_log.c.size, witness_log.c.root)
                            .where(witness_log.c.origin == origin)
                            .order_by(witness_log.c.id.desc()).limit(1)).first()
            return (int(row.size), bytes(row.root)) if row else None

    def witness_record(self, origin: str, peer: str, size: int, root: bytes, note: str,
                       now_ms: int, *, after: int | None = None) -> bool:
        """Record that we cosigned ``origin``'s checkpoint. With ``after`` (the size we held
        when we checked the consistency proof), only if that is still the latest we hold:
        a compare-and-set, under a lock on PostgreSQL, so that two processes of this
        gateway answering the same witness never cosign two views. False: not recorded."""
        with self._tx() as (c, ev):
            if after is not None:
                if self.engine.dialect.name == "postgresql":
                    c.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended("
                                      "'blo-gateway witness ' || current_schema() || ' ' "
                                      "|| :origin, 0))"), {"origin": origin})
                held = c.execute(sa.select(witness_log.c.size)
                                 .where(witness_log.c.origin == origin)
                                 .order_by(witness_log.c.id.desc()).limit(1)).scalar()
                if int(held or 0) != after:
                    return False
            c.execute(sa.insert(witness_log).values(origin=origin, size=size, root=root,
                                                    note=note, created_ms=now_ms))
            ev.append({"t": now_ms, "type": "checkpoint.cosigned", "peer": peer,
                       "origin": origin, "size": size, "root": root.hex()})
        return True

    def alert(self, origin: str, kind: str, detail: str, now_ms: int) -> None:
        with self._tx() as (c, ev):
            c.execute(sa.insert(audit_alerts).values(t=now_ms, origin=origin, kind=kind,
                                                     detail=detail[:300]))
            ev.append({"t": now_ms, "type": "witness.alert", "origin": origin, "kind": kind})

    def alerts(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(audit_alerts).order_by(audit_alerts.c.id.desc()).limit(limit))]

    def export_audit(self) -> dict[str, Any]:
        """Everything an offline auditor needs from this store (no payloads, no keys), from
        one snapshot: on PostgreSQL each statement of a READ COMMITTED transaction sees
        the latest commits, so a checkpoint signed while the leaves were read (by this
        process or another on the same schema) would name more entries than the export."""
        with self.engine.connect() as c:
            if self.engine.dialect.name == "postgresql":
                c.execution_options(isolation_level="REPEATABLE READ")
            leaves = [bytes(r.data) for r in c.execute(
                sa.select(audit_leaves.c.data).order_by(audit_leaves.c.idx))]
            cps = [r.note for r in c.execute(
                sa.select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.id))]
            witnessed = [{"origin": r.origin, "note": r.note} for r in c.execute(
                sa.select(witness_log.c.origin, witness_log.c.note)
                .order_by(witness_log.c.id))]
        return {"leaves": leaves, "checkpoints": cps, "witnessed": witnessed}
