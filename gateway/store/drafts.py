"""Drafts: compose forms a user saved to finish later. A draft holds personal data, so it is
kept like an envelope: its values are sealed at rest under a random key of its own
(``keys.seal_at_rest``), and the retention sweep that crypto-shreds envelopes
(``StorageKeysMixin.shred_expired``) deletes, on the same cut-off, every draft not saved
since. In clear: only the owner, the payload type, the recipients' office ids and times.

A draft belongs to one user: every query names the owner, and another user's draft is
"not found". Sending the form deletes its draft (after the message is committed: a crash
in between leaves the draft, never a lost message). At most ``MAX_DRAFTS`` per user, each at
most ``MAX_DRAFT_BYTES`` of values.
"""

from __future__ import annotations

import json
from typing import Any

import nacl.utils
import sqlalchemy as sa

from gateway.protocol.errors import Conflict, Malformed, NotFound
from gateway.store.engine import StoreBase
from gateway.store.keys import open_at_rest, seal_at_rest
from gateway.store.tables import web_drafts

__all__ = ["MAX_DRAFTS", "MAX_DRAFT_BYTES", "DraftsMixin"]

MAX_DRAFTS = 100
MAX_DRAFT_BYTES = 256 * 1024


class DraftsMixin(StoreBase):
    """Save, list (metadata), open and delete one user's drafts."""

    def save_draft(self, user: str, draft_id: bytes, message_type: str, to: list[str],
                   values: dict[str, list[str]], now_ms: int) -> None:
        """Create the draft ``draft_id`` or replace its values (under a fresh key)."""
        data = json.dumps({"values": values, "to": to}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_DRAFT_BYTES:
            raise Malformed(f"a draft holds at most {MAX_DRAFT_BYTES} bytes of values")
        key = nacl.utils.random(32)
        row = {"message_type": message_type, "recipients": ",".join(to)[:400],
               "updated_ms": now_ms, "sealed": seal_at_rest(key, data), "key": key}
        with self._tx() as (c, _):
            where = (web_drafts.c.id == draft_id, web_drafts.c.user_name == user)
            if c.execute(sa.update(web_drafts).where(*where).values(**row)).rowcount:
                return
            if c.execute(sa.select(web_drafts.c.id).where(web_drafts.c.id == draft_id)).first():
                raise NotFound("no such draft")
            n = c.execute(sa.select(sa.func.count()).select_from(web_drafts)
                          .where(web_drafts.c.user_name == user)).scalar_one()
            if n >= MAX_DRAFTS:
                raise Conflict(f"at most {MAX_DRAFTS} drafts per user; delete some first")
            c.execute(sa.insert(web_drafts).values(id=draft_id, user_name=user,
                                                   created_ms=now_ms, **row))

    def list_drafts(self, user: str) -> list[dict[str, Any]]:
        """The user's drafts, newest first: id, type, recipients and times (no values)."""
        q = (sa.select(web_drafts.c.id, web_drafts.c.message_type, web_drafts.c.recipients,
                       web_drafts.c.created_ms, web_drafts.c.updated_ms)
             .where(web_drafts.c.user_name == user)
             .order_by(web_drafts.c.updated_ms.desc()))
        with self.engine.connect() as c:
            return [{**dict(r._mapping), "recipients": [x for x in r.recipients.split(",") if x]}
                    for r in c.execute(q)]

    def open_draft(self, user: str, draft_id: bytes) -> dict[str, Any]:
        """The draft's type, recipients and values; ``NotFound`` if it is not the user's."""
        q = sa.select(web_drafts).where(web_drafts.c.id == draft_id,
                                        web_drafts.c.user_name == user)
        with self.engine.connect() as c:
            row = c.execute(q).first()
        if row is None:
            raise NotFound("no such draft (sent, deleted or shredded)")
        data = json.loads(open_at_rest(row.key, row.sealed))
        return {"message_type": row.message_type, "to": list(data["to"]),
                "values": {str(k): [str(x) for x in v] for k, v in data["values"].items()}}

    def delete_draft(self, user: str, draft_id: bytes) -> bool:
        with self._tx() as (c, _):
            return bool(c.execute(sa.delete(web_drafts).where(
                web_drafts.c.id == draft_id, web_drafts.c.user_name == user)).rowcount)
