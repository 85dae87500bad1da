"""The web app's part of the store: sign-in credentials and server-side sessions.

Two tables join ``gateway.store.metadata`` (created by migration 0006):

* ``web_credentials`` — per user: the Argon2id password hash, the TOTP secret sealed
  with the home's web key (``gateway.node.webauth``; never stored or logged in clear),
  the last TOTP time step used (a code works once), the user's language, and the count
  of failed sign-ins with the time before which another attempt is refused.
* ``web_sessions`` — one row per session, keyed by the SHA-256 of the random session id
  that only the browser's cookie holds; ended (signed out, revoked, expired) sessions
  keep their row with ``ended_ms`` so that a stolen old cookie is refused and logged.

Both rows go with their user (``ON DELETE CASCADE`` from ``users.name``). Every sign-in,
sign-out, refusal and credential change is an audit leaf written in the same transaction
(``Store._tx``), with ids and codes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.protocol.errors import NotFound
from gateway.store.facade import Store
from gateway.store.tables import case_items, envelopes, inbox, metadata, outbox, receipts, users

__all__ = ["ListFilter", "SessionInfo", "WebStore", "web_credentials", "web_sessions"]

web_credentials = sa.Table(
    "web_credentials", metadata,
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("totp_sealed", sa.LargeBinary, nullable=True),
    sa.Column("totp_last_step", sa.BigInteger, nullable=False),
    sa.Column("lang", sa.String(2), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("blocked_until_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("id_sha256", sa.LargeBinary(32), primary_key=True),
    sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
    sa.Column("ended_ms", sa.BigInteger, nullable=True),
)


@dataclass(frozen=True)
class ListFilter:
    """What an inbox or sent list shows: metadata columns only."""

    message_type: int = 0
    case_reference: str = ""
    priority: int = 0
    since_ms: int = 0
    until_ms: int = 0
    unopened: bool = False
    types: tuple[int, ...] = ()  # non-empty: only these message types (a role's limit)


@dataclass(frozen=True)
class SessionInfo:
    user: str
    role: str
    lang: str
    created_ms: int


class WebStore:
    """Synchronous queries on the web tables, in ``Store``'s transactions (run them through
    ``AsyncStore.call`` from the event loop, like every store method)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # ------------------------------------------------------------------ credentials

    def credentials(self, name: str) -> dict[str, Any] | None:
        """The user's role, whether disabled, and its web credentials (None: no such user or
        no password set)."""
        q = (sa.select(users.c.role, users.c.disabled_at_ms, web_credentials)
             .join(web_credentials, web_credentials.c.user_name == users.c.name)
             .where(users.c.name == name))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return dict(row._mapping) if row else None

    def set_password(self, name: str, password_hash: str, now_ms: int) -> None:
        """Set (or reset) a user's password; every session of the user ends."""
        with self.store._tx() as (c, ev):
            if c.execute(sa.select(users.c.id).where(users.c.name == name)).first() is None:
                raise NotFound(f"no user {name}; add it first (blo-gateway users add)")
            n = c.execute(sa.update(web_credentials).where(web_credentials.c.user_name == name)
                          .values(password_hash=password_hash, failures=0, blocked_until_ms=0,
                                  updated_at_ms=now_ms)).rowcount
            if n == 0:
                c.execute(sa.insert(web_credentials).values(
                    user_name=name, password_hash=password_hash, totp_sealed=None,
                    totp_last_step=0, lang="vi", failures=0, blocked_until_ms=0,
                    updated_at_ms=now_ms))
            self._end_all(c, name, now_ms)
            ev.append({"t": now_ms, "type": "web.password_set", "user": name})

    def set_totp(self, name: str, sealed: bytes, now_ms: int) -> None:
        """Enrol (or replace) the user's second factor; every session of the user ends."""
        with self.store._tx() as (c, ev):
            n = c.execute(sa.update(web_credentials).where(web_credentials.c.user_name == name)
                          .values(totp_sealed=sealed, totp_last_step=0,
                                  updated_at_ms=now_ms)).rowcount
            if n == 0:
                raise NotFound(f"user {name} has no web password yet; set one first")
            self._end_all(c, name, now_ms)
            ev.append({"t": now_ms, "type": "web.totp_enrolled", "user": name})

    def set_lang(self, name: str, lang: str, now_ms: int) -> None:
        with self.engine.begin() as c:
            c.execute(sa.update(web_credentials).where(web_credentials.c.user_name == name)
                      .values(lang=lang, updated_at_ms=now_ms))

    # ------------------------------------------------------------------ sign-in

    def refuse(self, event: dict[str, Any], *, failed_user: str | None = None,
               block_ms: int = 0) -> None:
        """Record a refusal (an audit leaf); for a failed sign-in of a known user, count the
        failure and refuse further attempts until ``now + block_ms``."""
        with self.store._tx() as (c, ev):
            if failed_user is not None:
                c.execute(sa.update(web_credentials)
                          .where(web_credentials.c.user_name == failed_user)
                          .values(failures=web_credentials.c.failures + 1,
                                  blocked_until_ms=event["t"] + block_ms))
            ev.append({"type": "web.refused", **event})

    def sign_in(self, name: str, session_sha256: bytes, totp_step: int, now_ms: int) -> bool:
        """Open a session after the password and second factor were checked. False if the
        TOTP step was already used (a replayed code) — then nothing is written."""
        with self.store._tx() as (c, ev):
            n = c.execute(sa.update(web_credentials)
                          .where(web_credentials.c.user_name == name,
                                 web_credentials.c.totp_last_step < totp_step)
                          .values(failures=0, blocked_until_ms=0,
                                  totp_last_step=totp_step)).rowcount
            if n == 0:
                return False
            c.execute(sa.insert(web_sessions).values(
                id_sha256=session_sha256, user_name=name, created_ms=now_ms,
                last_seen_ms=now_ms, ended_ms=None))
            ev.append({"t": now_ms, "type": "web.signin", "user": name,
                       "session": session_sha256.hex()})
            return True

    def session(self, session_sha256: bytes, now_ms: int, *, idle_ms: int,
                lifetime_ms: int) -> SessionInfo | str:
        """The live session's user, or why it is not live: ``ended``, ``idle``,
        ``lifetime``, ``disabled`` or ``unknown``. A live session's idle clock restarts;
        one found dead is ended (and stays so)."""
        q = (sa.select(web_sessions, users.c.role, users.c.disabled_at_ms,
                       web_credentials.c.lang)
             .join(users, users.c.name == web_sessions.c.user_name)
             .join(web_credentials, web_credentials.c.user_name == web_sessions.c.user_name)
             .where(web_sessions.c.id_sha256 == session_sha256))
        with self.engine.begin() as c:
            row = c.execute(q).first()
            if row is None:
                return "unknown"
            why = ("ended" if row.ended_ms is not None
                   else "disabled" if row.disabled_at_ms is not None
                   else "lifetime" if now_ms - row.created_ms > lifetime_ms
                   else "idle" if now_ms - row.last_seen_ms > idle_ms
                   else "")
            where = web_sessions.c.id_sha256 == session_sha256
            if why:
                if row.ended_ms is None:
                    c.execute(sa.update(web_sessions).where(where).values(ended_ms=now_ms))
                return why
            c.execute(sa.update(web_sessions).where(where).values(last_seen_ms=now_ms))
            return SessionInfo(str(row.user_name), str(row.role), str(row.lang),
                               int(row.created_ms))

    def sign_out(self, session_sha256: bytes, name: str, now_ms: int) -> None:
        with self.store._tx() as (c, ev):
            c.execute(sa.update(web_sessions).where(web_sessions.c.id_sha256 == session_sha256,
                                                    web_sessions.c.ended_ms.is_(None))
                      .values(ended_ms=now_ms))
            ev.append({"t": now_ms, "type": "web.signout", "user": name,
                       "session": session_sha256.hex()})

    def end_sessions(self, name: str, now_ms: int) -> int:
        """Revoke every live session of ``name`` (an admin's or the CLI's action; an audit
        leaf)."""
        with self.store._tx() as (c, ev):
            ev.append({"t": now_ms, "type": "web.sessions_ended", "user": name})
            return self._end_all(c, name, now_ms)

    def web_users(self) -> dict[str, dict[str, Any]]:
        """Per user with web credentials: whether a second factor is enrolled, and how many
        sessions are live (not ended; the idle and lifetime limits are the web app's)."""
        live = (sa.select(web_sessions.c.user_name, sa.func.count().label("n"))
                .where(web_sessions.c.ended_ms.is_(None)).group_by(web_sessions.c.user_name))
        with self.engine.connect() as c:
            out = {r.user_name: {"totp": r.totp_sealed is not None, "sessions": 0}
                   for r in c.execute(sa.select(web_credentials.c.user_name,
                                                web_credentials.c.totp_sealed))}
            for r in c.execute(live):
                out.setdefault(r.user_name, {"totp": False})["sessions"] = int(r.n)
        return out

    @staticmethod
    def _end_all(c: sa.Connection, name: str, now_ms: int) -> int:
        return int(c.execute(sa.update(web_sessions).where(
            web_sessions.c.user_name == name, web_sessions.c.ended_ms.is_(None))
            .values(ended_ms=now_ms)).rowcount)

    # ------------------------------------------------------------------ pages (metadata only)

    def message_page(self, direction: str, f: ListFilter, offset: int,
                     limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of received (``in``) or sent (``out``) messages, newest first, and how
        many match. Metadata only: nothing here is decrypted."""
        cols = [envelopes.c.id, envelopes.c.message_id, envelopes.c.sender,
                envelopes.c.recipients, envelopes.c.message_type, envelopes.c.created_at_ms,
                envelopes.c.case_reference, envelopes.c.priority, envelopes.c.handling_code,
                envelopes.c.deadline_ms, envelopes.c.in_reply_to]
        conds: list[Any] = [envelopes.c.direction == direction]
        if direction == "in":
            q = sa.select(*cols, inbox.c.received_at_ms, inbox.c.opened_at_ms).join(
                inbox, inbox.c.envelope_id == envelopes.c.id)
            when = inbox.c.received_at_ms
            if f.unopened:
                conds.append(inbox.c.opened_at_ms.is_(None))
        else:
            q = sa.select(*cols).where(envelopes.c.sender == self.store.office_id)
            when = envelopes.c.created_at_ms
        if f.message_type:
            conds.append(envelopes.c.message_type == f.message_type)
        if f.types:
            conds.append(envelopes.c.message_type.in_(f.types))
        if f.case_reference:
            conds.append(envelopes.c.case_reference == f.case_reference)
        if f.priority:
            conds.append(envelopes.c.priority == f.priority)
        if f.since_ms:
            conds.append(when >= f.since_ms)
        if f.until_ms:
            conds.append(when < f.until_ms)
        q = q.where(*conds)
        with self.engine.connect() as c:
            total = int(c.execute(sa.select(sa.func.count()).select_from(q.subquery()))
                        .scalar() or 0)
            rows = [dict(r._mapping) for r in c.execute(
                q.order_by(envelopes.c.id.desc()).offset(offset).limit(limit))]
            if direction == "out" and rows:
                states: dict[int, dict[str, str]] = {}
                for r in c.execute(sa.select(outbox.c.envelope_id, outbox.c.peer, outbox.c.state)
                                   .where(outbox.c.envelope_id.in_([r["id"] for r in rows]))):
                    states.setdefault(r.envelope_id, {})[r.peer] = r.state
                for row in rows:
                    row["states"] = states.get(row["id"], {})
        return rows, total

    def case_timeline(self, root_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """A case item and every message of it this side holds (the root and the answers),
        oldest first, with receipts and reads: metadata only."""
        with self.engine.connect() as c:
            item = c.execute(sa.select(case_items).where(case_items.c.root_id == root_id)).first()
            root = bytes.fromhex(root_id)
            q = (sa.select(envelopes.c.id, envelopes.c.direction, envelopes.c.message_id,
                           envelopes.c.sender, envelopes.c.recipients,
                           envelopes.c.message_type, envelopes.c.created_at_ms,
                           envelopes.c.stored_at_ms, inbox.c.opened_at_ms, inbox.c.opened_by)
                 .outerjoin(inbox, inbox.c.envelope_id == envelopes.c.id)
                 .where(sa.or_(envelopes.c.message_id == root,
                               envelopes.c.in_reply_to == root_id))
                 .order_by(envelopes.c.created_at_ms, envelopes.c.id))
            rows = [dict(r._mapping) for r in c.execute(q)]
            if rows:
                got: dict[int, list[tuple[str, int]]] = {}
                for r in c.execute(sa.select(receipts.c.envelope_id, receipts.c.office,
                                             receipts.c.received_at_ms)
                                   .where(receipts.c.envelope_id.in_([r["id"] for r in rows]),
                                          receipts.c.direction == "received")):
                    got.setdefault(r.envelope_id, []).append((r.office, r.received_at_ms))
                for row in rows:
                    row["receipts"] = got.get(row["id"], [])
        return (dict(item._mapping) if item else None), rows

    # ------------------------------------------------------------------ the alert stream

    def session_live(self, session_sha256: bytes, now_ms: int, *, idle_ms: int,
                     lifetime_ms: int) -> bool:
        """Whether the session is still live, without restarting its idle clock: an open
        alert stream is not activity, so an unattended page still times out."""
        q = (sa.select(web_sessions.c.created_ms, web_sessions.c.last_seen_ms,
                       web_sessions.c.ended_ms, users.c.disabled_at_ms)
             .join(users, users.c.name == web_sessions.c.user_name)
             .where(web_sessions.c.id_sha256 == session_sha256))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return bool(row is not None and row.ended_ms is None and row.disabled_at_ms is None
                    and now_ms - row.created_ms <= lifetime_ms
                    and now_ms - row.last_seen_ms <= idle_ms)

    def unread_counts(self, types: tuple[int, ...] = ()) -> tuple[int, int]:
        """Received messages not yet opened: all of them, and the urgent ones (``types``:
        only of these message types)."""
        q = (sa.select(sa.func.count(),
                       sa.func.coalesce(sa.func.sum(sa.case((envelopes.c.priority == 3, 1),
                                                            else_=0)), 0))
             .select_from(inbox.join(envelopes, inbox.c.envelope_id == envelopes.c.id))
             .where(inbox.c.opened_at_ms.is_(None),
                    *([envelopes.c.message_type.in_(types)] if types else [])))
        with self.engine.connect() as c:
            n, urgent = c.execute(q).one()
        return int(n), int(urgent)

    # ------------------------------------------------------------------ the auditor's page

    def reads(self, limit: int = 100) -> list[dict[str, Any]]:
        """Who opened which received message first, and when: metadata only, newest first
        (every read, the first and the later ones, is a ``message.opened`` audit leaf)."""
        q = (sa.select(envelopes.c.message_id, envelopes.c.message_type, envelopes.c.sender,
                       envelopes.c.case_reference, inbox.c.opened_by, inbox.c.opened_at_ms)
             .join(inbox, inbox.c.envelope_id == envelopes.c.id)
             .where(inbox.c.opened_at_ms.is_not(None))
             .order_by(inbox.c.opened_at_ms.desc()).limit(limit))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]
