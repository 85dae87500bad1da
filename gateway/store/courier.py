"""Courier bundles as stored: the sequence per peer and direction, and the receipts owed.

Every bundle this gateway writes (``out``, per destination) or imports (``in``, per issuer) is
one row with its sequence, digest and counts; ``(direction, peer, sequence)`` is unique, so
the next bundle to a peer has the next sequence and a bundle is imported at most once. An
import is claimed in the transaction that stores its envelopes (``_claim_bundle``): one not
newer than the last imported from that issuer fails the whole transaction (``REPLAY`` for
the same bytes again, else ``STALE_BUNDLE``) and stores nothing.

The receipts we issued for envelopes that came by courier are owed to their sender
(``courier_owed``) and travel in every bundle to it until one of its bundles acknowledges
(``ack_sequence``) a bundle of ours that carried them.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gateway.protocol.errors import Replay, StaleBundle
from gateway.store.engine import StoreBase
from gateway.store.keys import open_at_rest
from gateway.store.rows import BundleClaim, OutboxItem
from gateway.store.tables import (
    audit_checkpoints,
    content_keys,
    courier_bundles,
    courier_carried,
    courier_owed,
    envelopes,
    outbox,
    receipts,
    witness_log,
)

__all__ = ["CourierMixin"]


class CourierMixin(StoreBase):
    """Sequences, claims, owed receipts, and the queries a bundle is made of."""

    def courier_sequences(self, peer: str) -> tuple[int, int]:
        """(the sequence of our next bundle to ``peer``, the last we imported from it)."""
        seq = sa.func.max(courier_bundles.c.sequence)
        with self.engine.connect() as c:
            out = c.execute(sa.select(seq).where(courier_bundles.c.direction == "out",
                                                 courier_bundles.c.peer == peer)).scalar()
            last = c.execute(sa.select(seq).where(courier_bundles.c.direction == "in",
                                                  courier_bundles.c.peer == peer)).scalar()
        return int(out or 0) + 1, int(last or 0)

    def courier_check(self, issuer: str, sequence: int, sha256: bytes) -> None:
        """Raise Replay / StaleBundle if a bundle (issuer, sequence) is not newer than the
        last imported; read-only, before any item of it is looked at."""
        with self.engine.connect() as c:
            self._check_bundle(c, issuer, sequence, sha256)

    def _check_bundle(self, c: sa.Connection, issuer: str, sequence: int, sha256: bytes) -> None:
        rows = c.execute(sa.select(courier_bundles.c.sequence, courier_bundles.c.sha256).where(
            courier_bundles.c.direction == "in", courier_bundles.c.peer == issuer,
            courier_bundles.c.sequence >= sequence)).all()
        for r in rows:
            if r.sequence == sequence and hmac.compare_digest(bytes(r.sha256), sha256):
                raise Replay(f"bundle {sequence} from {issuer} was already imported")
        if rows:
            last = max(int(r.sequence) for r in rows)
            raise StaleBundle(f"bundle {sequence} from {issuer} is not newer than bundle {last}, "
                              "already imported (a newer bundle carries what it still held)")

    def _claim_bundle(self, c: sa.Connection, claim: BundleClaim, now_ms: int,
                      envelope_ids: Sequence[int]) -> None:
        """In the importing transaction: record the bundle, forget the receipts it
        acknowledges, and owe the issuer the receipts of ``envelope_ids``."""
        self._check_bundle(c, claim.issuer, claim.sequence, claim.sha256)
        c.execute(sa.insert(courier_bundles).values(
            direction="in", peer=claim.issuer, sequence=claim.sequence, sha256=claim.sha256,
            created_at_ms=claim.created_at_ms, recorded_at_ms=now_ms,
            envelopes=claim.envelopes, receipts=claim.receipts))
        c.execute(sa.delete(courier_owed).where(
            courier_owed.c.peer == claim.issuer, courier_owed.c.since_sequence.is_not(None),
            courier_owed.c.since_sequence <= claim.ack_sequence))
        ids = sorted(set(envelope_ids))
        if ids:
            c.execute(sa.delete(courier_owed).where(courier_owed.c.peer == claim.issuer,
                                                    courier_owed.c.envelope_id.in_(ids)))
            c.execute(sa.insert(courier_owed), [
                {"peer": claim.issuer, "envelope_id": i, "since_sequence": None} for i in ids])

    def courier_queued(self, peer: str, now_ms: int, max_bytes: int
                       ) -> tuple[list[OutboxItem], int]:
        """What is queued for ``peer`` and not expired, up to ``max_bytes`` of envelopes, and
        how many are left over: those no bundle carried first, then those carried longest ago
        (so that a second bundle written at once carries what did not fit in the first), then
        urgent first, oldest first."""
        q = (sa.select(outbox.c.id, outbox.c.envelope_id, outbox.c.attempts,
                       envelopes.c.message_id, envelopes.c.sha256, envelopes.c.raw,
                       envelopes.c.expires_at_ms, envelopes.c.stored_at_ms, content_keys.c.key)
             .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
             .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
             .outerjoin(courier_carried, courier_carried.c.outbox_id == outbox.c.id)
             .where(outbox.c.peer == peer, outbox.c.state == "queued",
                    envelopes.c.expires_at_ms > now_ms)
             .order_by(sa.func.coalesce(courier_carried.c.sequence, 0),
                       outbox.c.priority.desc(), outbox.c.id))
        out: list[OutboxItem] = []
        size, left = 0, 0
        with self.engine.connect() as c:
            for r in c.execute(q):
                if left or size + len(r.raw) > max_bytes:
                    left += 1
                    continue
                raw = open_at_rest(r.key, r.raw)
                size += len(r.raw)
                out.append(OutboxItem(r.id, r.envelope_id, peer, r.message_id, r.sha256, raw,
                                      r.expires_at_ms, r.attempts, r.stored_at_ms))
        return out, left

    def courier_owed(self, peer: str) -> list[tuple[int, bytes]]:
        """(envelope id, receipt bytes) of the receipts owed to ``peer``."""
        q = (sa.select(courier_owed.c.envelope_id, receipts.c.raw)
             .join(receipts, sa.and_(receipts.c.envelope_id == courier_owed.c.envelope_id,
                                     receipts.c.direction == "issued"))
             .where(courier_owed.c.peer == peer).order_by(courier_owed.c.envelope_id))
        with self.engine.connect() as c:
            return [(int(r.envelope_id), bytes(r.raw)) for r in c.execute(q)]

    def outbox_queued(self, peer: str, message_ids: Sequence[bytes]) -> list[OutboxItem]:
        """Our queued outbox items for ``peer`` among ``message_ids`` (receipts by courier),
        with their envelopes (a receipt must be in its envelope's suite)."""
        if not message_ids:
            return []
        q = (sa.select(outbox.c.id, outbox.c.envelope_id, outbox.c.attempts,
                       envelopes.c.message_id, envelopes.c.sha256, envelopes.c.expires_at_ms,
                       envelopes.c.stored_at_ms, envelopes.c.raw, content_keys.c.key)
             .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
             .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
             .where(outbox.c.peer == peer, outbox.c.state == "queued",
                    envelopes.c.sender == self.office_id,
                    envelopes.c.message_id.in_(set(message_ids))))
        with self.engine.connect() as c:
            return [OutboxItem(r.id, r.envelope_id, peer, r.message_id, r.sha256,
                               open_at_rest(r.key, r.raw), r.expires_at_ms, r.attempts,
                               r.stored_at_ms)
                    for r in c.execute(q)]

    def courier_record_export(self, peer: str, *, sequence: int, sha256: bytes,
                              created_at_ms: int, outbox_ids: Sequence[int],
                              owed_ids: Sequence[int], event: dict[str, Any]) -> None:
        """Record a bundle written for ``peer`` (and its audit leaf), the queued messages it
        carried and which owed receipts it was the first to carry."""
        with self._tx() as (c, ev):
            c.execute(sa.insert(courier_bundles).values(
                direction="out", peer=peer, sequence=sequence, sha256=sha256,
                created_at_ms=created_at_ms, recorded_at_ms=created_at_ms,
                envelopes=len(outbox_ids), receipts=len(owed_ids)))
            if outbox_ids:
                ids = sorted(set(outbox_ids))
                c.execute(sa.delete(courier_carried).where(courier_carried.c.outbox_id.in_(ids)))
                c.execute(sa.insert(courier_carried), [
                    {"outbox_id": o, "sequence": sequence} for o in ids])
            if owed_ids:
                c.execute(sa.update(courier_owed).where(
                    courier_owed.c.peer == peer, courier_owed.c.since_sequence.is_(None),
                    courier_owed.c.envelope_id.in_(sorted(set(owed_ids))))
                    .values(since_sequence=sequence))
            ev.append(event)

    def checkpoint_id(self, size: int, root: bytes) -> int | None:
        """Our checkpoint of this size and root (a cosignature brought by courier names it)."""
        with self.engine.connect() as c:
            v = c.execute(sa.select(sa.func.max(audit_checkpoints.c.id)).where(
                audit_checkpoints.c.size == size, audit_checkpoints.c.root == root)).scalar()
        return int(v) if v is not None else None

    def witness_latest_note(self, origin: str) -> str | None:
        """The latest checkpoint of ``origin``'s log that we cosigned, with our cosignature."""
        with self.engine.connect() as c:
            v = c.execute(sa.select(witness_log.c.note).where(witness_log.c.origin == origin)
                          .order_by(witness_log.c.id.desc()).limit(1)).scalar()
        return str(v) if v is not None else None
