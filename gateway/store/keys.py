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

__all__ = ["AT_REST_OVERHEAD", "StorageKeysMixin", "open_at_rest", "seal_at_rest"]


#: the columns of an envelope row that ``_insert_envelopes`` writes, besides its id
_COLUMNS = ("direction", "message_id", "sender", "recipients", "message_type", "sha256", "raw",
            "created_at_ms", "expires_at_ms", "stored_at_ms", "case_reference", "in_reply_to",
            "priority", "handling_code", "deadline_ms", "submitted_by")
#: SQLite: the largest envelope id (the next ones follow it)
_TOP_ID = sa.select(sa.func.max(envelopes.c.id))
#: PostgreSQL: n new envelope ids from the table's own sequence (in this gateway's schema)
_NEXT_IDS = sa.text("SELECT nextval(pg_get_serial_sequence('envelopes', 'id')) "
                    "FROM generate_series(1, :n)")


#: What sealing at rest adds to an envelope: the 12-byte nonce and the 16-byte tag.
AT_REST_OVERHEAD = 12 + 16


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
        """Store ``rows`` (envelope, stored at, submitted by), each sealed at rest under a new
        key; returns their ids in order.

        The ids are chosen first and the rows written like every hot insert
        (``_insert_rows``), not by an ``INSERT ... RETURNING`` of many rows, which psycopg
        parses anew for every batch (some 15 ms for 32 envelopes, longer than storing them)
        and SQLAlchemy feeds row by row through Python on SQLite. PostgreSQL: from the
        table's sequence. SQLite: the next rowids, as SQLite itself would choose them (the
        table has no AUTOINCREMENT and no envelope row is ever deleted): envelopes are
        inserted only by the writer thread of the one gateway process a home allows
        (``lock_home``; offline commands such as ``bench_catchup``'s fill run without it), so
        the largest id it reads is still the largest when it writes."""
        if not rows:
            return []
        keys = [nacl.utils.random(32) for _ in rows]
        values = [(direction, env.message_id, env.sender, ",".join(env.recipients),
                   env.message_type, env.sha256, seal_at_rest(k, env.raw), env.created_at_ms,
                   env.expires_at_ms, now_ms, env.case_reference, env.in_reply_to,
                   env.priority, env.handling_code, env.deadline_ms, by)
                  for (env, now_ms, by), k in zip(rows, keys, strict=True)]
        if c.dialect.name == "postgresql":
            ids = sorted(int(r[0]) for r in c.execute(_NEXT_IDS, {"n": len(rows)}))
        else:
            first = int(c.execute(_TOP_ID).scalar() or 0) + 1
            ids = list(range(first, first + len(rows)))
        self._insert_rows(c, envelopes, ("id", *_COLUMNS),
                          [(i, *v) for i, v in zip(ids, values, strict=True)])
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
