"""Idempotency keys: an officer request that created something, remembered by its key.

A row is (user, SHA-256 of the key) → the HMAC of the request under the key, the message
it created and the answer given. It is inserted in the transaction of the submission it
answers (``OutboxMixin.submit_many``), so a key is stored if and only if its message is;
the primary key makes a second row for one (user, key) impossible, so two submissions under
one key can never both commit. Neither the key nor the request is stored: the key only as
a hash, the request only as an HMAC keyed by the key (no dictionary of message bodies can
be tried against it). Rows are kept at least the configured period, then pruned.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from gateway.store.engine import StoreBase
from gateway.store.rows import IdempotentAnswer, Submission
from gateway.store.tables import idempotency_keys

__all__ = ["IdempotencyMixin"]


class IdempotencyMixin(StoreBase):
    """Look up, record (with a submission) and prune idempotency keys."""

    def idempotent_answer(self, user: str, key_sha256: bytes) -> IdempotentAnswer | None:
        """The answer stored for ``user``'s key, if a request under it created something."""
        with self.engine.connect() as c:
            r = c.execute(sa.select(idempotency_keys).where(
                idempotency_keys.c.user == user,
                idempotency_keys.c.key_sha256 == key_sha256)).first()
        if r is None:
            return None
        return IdempotentAnswer(r.user, bytes(r.key_sha256), bytes(r.request_hmac),
                                bytes(r.message_id), int(r.status), bytes(r.answer))

    @staticmethod
    def _record_answers(c: sa.Connection, items: Sequence[Submission]) -> None:
        """Inside a submission's transaction: its key row (a duplicate aborts it all)."""
        rows = [{"user": a.user, "key_sha256": a.key_sha256, "request_hmac": a.request_hmac,
                 "message_id": a.message_id, "status": a.status, "answer": a.answer,
                 "created_at_ms": s.now_ms}
                for s in items if (a := s.idempotency) is not None]
        if rows:
            c.execute(sa.insert(idempotency_keys), rows)

    def prune_idempotency_keys(self, before_ms: int) -> int:
        """Forget keys recorded before ``before_ms``; returns how many."""
        with self.engine.begin() as c:
            n = c.execute(sa.delete(idempotency_keys)
                          .where(idempotency_keys.c.created_at_ms < before_ms)).rowcount
        return int(n or 0)
