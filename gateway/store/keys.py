"""Storage keys and crypto-shredding: every envelope is sealed at rest under its own key.

Deleting the key (``shred_expired``, at the end of the retention period) makes the stored
ciphertext unreadable for good; reading a shredded envelope raises ``Shredded``. The web
app's drafts (``drafts``) are sealed the same way and go on the same cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nacl.utils
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from gateway.protocol.errors import Shredded
from gateway.store.engine import StoreBase
from gateway.store.rows import Incoming
from gateway.store.tables import content_keys, envelopes, outbox, web_drafts

__all__ = ["StorageKeysMixin", "open_at_rest", "seal_at_rest"]


def seal_at_rest(key: bytes, raw: bytes) -> bytes:
    nonce = nacl.utils.random(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, raw, b"blo-gateway/at-rest/v1")


def open_at_rest(key: bytes | None, blob: bytes) -> bytes:
    if key is None:
        raise Shredded("this message was crypto-shredded at the end of its retention period")
    return ChaCha20Poly1305(key).decrypt(blob[:12], blob[12:], b"blo-gateway/at-rest/v1")


def _plain_row(row: Any) -> dict[str, Any]:
    """A row with ``raw`` decrypted from its at-rest form (Shredded if its key is gone)."""
    d = dict(row._mapping)
    if d.get("shredded_at_ms") is not None:
        raise Shredded("this message was crypto-shredded at the end of its retention period")
    d["raw"] = open_at_rest(d.pop("key"), d["raw"])
    return d


class StorageKeysMixin(StoreBase):
    """Envelopes in, sealed under a fresh storage key; shredding at expiry."""

    def _insert_envelopes(self, c: sa.Connection,
                          rows: Sequence[tuple[Incoming, int, str | None]],
                          direction: str) -> list[int]:
        if not rows:
            return []
        keys = [nacl.utils.random(32) for _ in rows]
        stmt = sa.insert(envelopes).returning(envelopes.c.id, sort_by_parameter_order=True)
        result = c.execute(stmt, [{
            "direction": direction, "message_id": env.message_id, "sender": env.sender,
            "recipients": ",".join(env.recipients), "message_type": env.message_type,
            "sha256": env.sha256, "raw": seal_at_rest(k, env.raw),
            "created_at_ms": env.created_at_ms,
            "expires_at_ms": env.expires_at_ms, "stored_at_ms": now_ms,
            "case_reference": env.case_reference, "in_reply_to": env.in_reply_to,
            "priority": env.priority, "handling_code": env.handling_code,
            "deadline_ms": env.deadline_ms, "submitted_by": by}
            for (env, now_ms, by), k in zip(rows, keys, strict=True)])
        ids = [int(r[0]) for r in result]
        self._insert_rows(c, content_keys, ("envelope_id", "key"),
                          list(zip(ids, keys, strict=True)))
        return ids

    def shred_expired(self, before_ms: int, now_ms: int) -> int:
        """Crypto-shredding: destroy the storage keys of envelopes stored before ``before_ms``
        (and the ciphertext with them). Their metadata and audit leaves remain; the audit
        log records each shredding. Undelivered copies go to the dead letters. Drafts not
        saved since ``before_ms`` are deleted with their keys (not counted)."""
        with self._tx() as (c, ev):
            c.execute(sa.delete(web_drafts).where(web_drafts.c.updated_ms < before_ms))
            rows = c.execute(sa.select(envelopes.c.id, envelopes.c.message_id,
                                       envelopes.c.sha256)
                             .where(envelopes.c.stored_at_ms < before_ms,
                                    envelopes.c.shredded_at_ms.is_(None))).all()
            if not rows:
                return 0
            ids = [r.id for r in rows]
            c.execute(sa.delete(content_keys).where(content_keys.c.envelope_id.in_(ids)))
            c.execute(sa.update(envelopes).where(envelopes.c.id.in_(ids))
                      .values(raw=b"", shredded_at_ms=now_ms))
            c.execute(sa.update(outbox).where(outbox.c.envelope_id.in_(ids),
                                              outbox.c.state == "queued")
                      .values(state="dead", last_error_code="SHREDDED",
                              last_error="retention expired before delivery",
                              updated_at_ms=now_ms))
            ev.extend({"t": now_ms, "type": "message.shredded", "message_id": r.message_id.hex(),
                       "envelope_sha256": r.sha256.hex()} for r in rows)
            return len(rows)
