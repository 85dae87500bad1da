"""Officer accounts, stored by token hash (the token itself is never kept)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import nacl.utils
import sqlalchemy as sa

from gateway.protocol.errors import Conflict, NotFound
from gateway.store.engine import StoreBase
from gateway.store.tables import users

__all__ = ["UsersMixin"]


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class UsersMixin(StoreBase):
    """Users and their tokens; each change is an audit event."""

    def add_user(self, name: str, role: str, token: str, now_ms: int) -> None:
        """A new user with ``token``; ``Conflict`` if the name is taken."""
        with self._tx() as (c, ev):
            if c.execute(sa.select(users.c.id).where(users.c.name == name)).first():
                raise Conflict(f"user {name} exists; remove it first or revoke its token")
            c.execute(sa.insert(users).values(name=name, role=role, created_at_ms=now_ms,
                                              token_sha256=_token_hash(token)))
            ev.append({"t": now_ms, "type": "user.added", "user": name, "kind": role})

    def user_for_token(self, token: str) -> tuple[str, str] | None:
        """(name, role) for the bearer token of an enabled user. Lookup is by SHA-256, so
        timing reveals nothing about the token; the stored hash is compared in constant time
        as well. Read on every request: a revocation or a disabled user counts at once."""
        h = _token_hash(token)
        with self.engine.connect() as c:
            row = c.execute(sa.select(users.c.name, users.c.role, users.c.token_sha256)
                            .where(users.c.token_sha256 == h,
                                   users.c.disabled_at_ms.is_(None))).first()
        if row is None or not hmac.compare_digest(row.token_sha256, h):
            return None
        return str(row.name), str(row.role)

    def list_users(self) -> list[dict[str, Any]]:
        """Every user: name, role, created_at_ms, disabled_at_ms (never the token hash)."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(users.c.name, users.c.role, users.c.created_at_ms,
                                       users.c.disabled_at_ms).order_by(users.c.name)).all()
        return [dict(r._mapping) for r in rows]

    def set_user_disabled(self, name: str, disabled: bool, now_ms: int) -> None:
        """Disable (its token stops working at once) or enable a user again."""
        with self._tx() as (c, ev):
            self._user_id(c, name)
            c.execute(sa.update(users).where(users.c.name == name)
                      .values(disabled_at_ms=now_ms if disabled else None))
            ev.append({"t": now_ms, "type": "user.disabled" if disabled else "user.enabled",
                       "user": name})

    def remove_user(self, name: str, now_ms: int) -> None:
        with self._tx() as (c, ev):
            self._user_id(c, name)
            c.execute(sa.delete(users).where(users.c.name == name))
            ev.append({"t": now_ms, "type": "user.removed", "user": name})

    def replace_token(self, name: str, new_token: str | None, now_ms: int) -> None:
        """Revoke ``name``'s token; with ``new_token``, that one works from now on. Without,
        the stored hash becomes random bytes: no token has it, and the column stays unique."""
        with self._tx() as (c, ev):
            self._user_id(c, name)
            h = _token_hash(new_token) if new_token is not None else nacl.utils.random(32)
            c.execute(sa.update(users).where(users.c.name == name).values(token_sha256=h))
            ev.append({"t": now_ms, "type": "token.revoked", "user": name})
            if new_token is not None:
                ev.append({"t": now_ms, "type": "token.issued", "user": name})

    @staticmethod
    def _user_id(c: sa.Connection, name: str) -> int:
        uid = c.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()
        if uid is None:
            raise NotFound(f"no user {name}")
        return int(uid)
