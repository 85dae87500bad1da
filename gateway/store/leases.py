"""Leases: which process of a gateway runs a role that must run once per gateway.

Several ``blo-gateway serve`` processes may share one PostgreSQL schema (one gateway, more
machines). They all serve the peer and officer APIs; a *role* — delivery to one peer
(``deliver:<office>``), checkpointing and housekeeping (``checkpoint``) — runs only in the
process that holds its lease. A lease is a session-level PostgreSQL advisory lock
(``pg_try_advisory_lock``, keyed by the schema and the role's name) taken on one
dedicated connection. The server releases it when that session ends, so a process that
dies (kill -9: the kernel closes its socket at once; a lost machine: the TCP keepalives
below) or loses its database connection loses its leases, and another process takes them
at its next try. Nothing here reads a clock or elects anyone: the database's lock table
is the only arbiter.

Invariants: a name is tried only while not held (session locks stack); a held lease
stays held exactly as long as the dedicated connection answers; when it stops answering,
every lease is reported lost before a new connection is opened. The lease connection's
TCP timeouts are shorter on our side (``tcp_user_timeout`` 10 s) than on the server's
(keepalives: 10 s idle, 5 s interval, 3 probes), so a cut-off process gives up its roles
before the server lets another process take them.

SQLite has one process per home (``gateway.node.home.lock_home``) and no leases: every
role is that process's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from gateway.store.engine import make_engine

__all__ = ["Leases"]

#: libpq settings of the lease connection: our side gives up within ~10 s of silence;
#: the server-side keepalives (a lost machine) end the session, and its locks, within ~25 s.
_CLIENT_ARGS = {
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 10_000, "connect_timeout": 5,
}
_SERVER_SETTINGS = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
                    "SET tcp_keepalives_count = 3", "SET statement_timeout = '5s'")
_KEY = "hashtextextended('blo-gateway lease ' || current_schema() || ' ' || :name, 0)"


class Leases:
    """The leases of one process, on one dedicated PostgreSQL connection (not thread-safe:
    one caller at a time)."""

    def __init__(self, url: str, schema: str | None) -> None:
        # Its own engine without a pool: closing the connection ends the session, and
        # with it every lease (a pooled connection would keep them).
        self.engine = make_engine(url, schema=schema, poolclass=NullPool,
                                  connect_args=_CLIENT_ARGS)
        if self.engine.dialect.name != "postgresql":
            raise ValueError("leases need PostgreSQL (SQLite: one process per home)")
        self._conn: sa.Connection | None = None
        self.held: set[str] = set()

    def _connect(self) -> sa.Connection:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        for stmt in _SERVER_SETTINGS:
            conn.execute(sa.text(stmt))
        return conn

    def hold(self, wanted: Iterable[str]) -> set[str]:
        """Keep the leases we hold (if our session is alive) and try the others of
        ``wanted``; the names held after the call. A lease not in ``wanted`` is released.
        Database errors mean "nothing held" (the session, and its locks, are gone or
        going); the next call reconnects."""
        wanted = set(wanted)
        try:
            if self._conn is None:
                self.held = set()
                self._conn = self._connect()
            else:
                self._conn.execute(sa.text("SELECT 1"))  # our session, so our locks, live
            for name in sorted(self.held - wanted):
                self._conn.execute(sa.text(f"SELECT pg_advisory_unlock({_KEY})"),
                                   {"name": name})
                self.held.discard(name)
            for name in sorted(wanted - self.held):
                if self._conn.execute(sa.text(f"SELECT pg_try_advisory_lock({_KEY})"),
                                      {"name": name}).scalar():
                    self.held.add(name)
        except SQLAlchemyError:
            self._drop()
        return set(self.held)

    def _drop(self) -> None:
        self.held = set()
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.invalidate()  # its session, and its locks, end with it
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Release every lease (closing the session does)."""
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None
        self.held = set()
        self.engine.dispose()
