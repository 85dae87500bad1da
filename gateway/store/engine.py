"""The engine, the migrations and the unit of work every concept shares.

``make_engine`` opens SQLite (WAL, ``synchronous=FULL``, ``secure_delete``) or PostgreSQL
(one schema per gateway); ``migrate`` runs Alembic; ``prepare_schema`` is what a gateway
and the offline commands do at start: create an empty database, and refuse one that is older
than the code (unless told to upgrade it) or newer (always). ``StoreBase._tx`` is the one unit of
work: the audit events a write records are appended to the audit tree in the same
transaction, so an event and its audit leaf commit together or not at all; appends are
serialised across processes (``_lock_audit``), so several processes on one PostgreSQL
schema still write one linear log.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from gateway.audit.leaves import LEAF_PREFIX, encode_leaf
from gateway.audit.merkle import CompactRange, leaf_hash
from gateway.protocol.errors import ConfigError, SchemaMismatch, StorageError
from gateway.store.tables import audit_leaves, audit_nodes

__all__ = ["StoreBase", "make_engine", "migrate", "prepare_schema", "schema_revision"]


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    # Crypto-shredding deletes storage keys: their pages must be overwritten, not just
    # unlinked. Set on every connection; the compile-time default differs between builds.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def make_engine(url: str, *, schema: str | None = None, poolclass: Any = None,
                connect_args: dict[str, Any] | None = None) -> sa.Engine:
    """An engine for ``url``; ``schema`` (PostgreSQL only) isolates one gateway's tables;
    ``poolclass`` and ``connect_args`` (PostgreSQL only) are for the lease connection."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    args: dict[str, Any] = dict(connect_args or {})
    if schema and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ConfigError(f"database_schema {schema!r}: lower-case letters, digits, _")
    if schema:
        args["options"] = f"-csearch_path={schema}"
    # Named, so that an operator (and the fault tests) can tell this gateway's sessions in
    # pg_stat_activity; pre-ping below replaces a connection the server dropped.
    args["application_name"] = f"blo-gateway {schema}" if schema else "blo-gateway"
    engine = (sa.create_engine(url, connect_args=args, poolclass=poolclass)
              if poolclass is not None
              else sa.create_engine(url, connect_args=args, pool_pre_ping=True))
    if schema:
        with engine.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def _alembic() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest Alembic revision)."""
    cfg = _alembic()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def schema_revision(engine: sa.Engine) -> tuple[str | None, str, bool]:
    """(the database's revision or None, the code's newest, whether the database is empty)."""
    script = ScriptDirectory.from_config(_alembic())
    head = script.get_current_head()
    assert head is not None
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    return current, head, current is None and not tables


def prepare_schema(engine: sa.Engine, *, upgrade: bool) -> str:
    """Check the schema before a gateway or a command uses the database.

    An empty database is created at the newest revision ("created"); one at the newest is
    used as it is ("current"); an older one is upgraded only with ``upgrade``
    ("upgraded"), else refused; one newer than this code, or with tables but no revision,
    is always refused (SchemaMismatch, saying what to do)."""
    current, head, empty = schema_revision(engine)
    if current == head:
        return "current"
    if empty:
        migrate(engine)
        return "created"
    known = {s.revision for s in ScriptDirectory.from_config(_alembic()).walk_revisions()}
    if current is None:
        raise SchemaMismatch("the database holds tables but no schema revision: it is not a "
                             "gateway database (check database_url / database_schema)")
    if current not in known:
        raise SchemaMismatch(f"the database is at schema revision {current}, newer than this "
                             f"code (which knows up to {head}): run the blo-gateway release "
                             "that wrote it, or restore a backup made for this one")
    if not upgrade:
        raise SchemaMismatch(f"the database is at schema revision {current}, older than this "
                             f"code ({head}): back it up, then run `blo-gateway migrate "
                             "--home HOME` (or set auto_migrate = true in gateway.toml)")
    migrate(engine)
    return "upgraded"


class _DbTree:
    """Reads complete-subtree hashes of the audit tree from the store (for proofs)."""

    def __init__(self, c: sa.Connection) -> None:
        self.c = c
        self.cache: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            h = self.c.execute(sa.select(audit_nodes.c.hash).where(
                audit_nodes.c.level == level, audit_nodes.c.idx == index)).scalar()
            if h is None:
                raise StorageError(f"audit tree node {level}/{index} is missing")
            self.cache[key] = bytes(h)
        return self.cache[key]


#: the index of the newest audit leaf (built once: see ``inbox``)
_AUDIT_TOP = sa.select(sa.func.max(audit_leaves.c.idx))
#: a write for ``StoreBase.together``: function, positional and keyword arguments
Job = tuple[Callable[..., Any], Sequence[Any], Mapping[str, Any]]


class StoreBase:
    """Synchronous queries; use through ``AsyncStore`` from the event loop.

    Writes that are audit events append their leaves to the audit log in the same
    transaction; the in-memory right edge of the tree is replaced only after the commit,
    so a failed transaction leaves no trace in either."""

    def __init__(self, engine: sa.Engine, office_id: str = "",
                 deadline_hours: dict[str, dict[int, float]] | None = None) -> None:
        self.engine = engine
        self.office_id = office_id
        self.deadline_hours = deadline_hours
        self._edge: CompactRange | None = None
        #: (table, columns) -> (INSERT for this dialect, positional order or None)
        self._driver_sql: dict[tuple[str, tuple[str, ...], bool],
                               tuple[str, tuple[int, ...] | None]] = {}
        self._copy_sql: dict[tuple[str, tuple[str, ...]], bytes] = {}  # PostgreSQL's COPY
        self._local = threading.local()  # the transaction ``together`` holds on this thread

    def _load_edge(self, c: sa.Connection) -> CompactRange:
        """The right edge of the tree as committed. Another process may have appended
        since we last looked (``blo-gateway users``, or a second gateway process on the
        same PostgreSQL schema): the size is read on every call (an index lookup) and the
        edge reloaded from the stored subtree hashes when it differs."""
        top = c.execute(_AUDIT_TOP).scalar()
        size = 0 if top is None else int(top) + 1
        if self._edge is None or self._edge.size != size:
            tree, hashes, start = _DbTree(c), [], 0
            for level in range(size.bit_length() - 1, -1, -1):
                if size >> level & 1:
                    hashes.append(tree.node(level, start >> level))
                    start += 1 << level
            self._edge = CompactRange(size, hashes)
        return self._edge

    @contextlib.contextmanager
    def _tx(self) -> Iterator[tuple[sa.Connection, list[dict[str, Any]]]]:
        """A transaction in which audit events can be recorded (appended on commit). Inside
        ``together`` it is that transaction: the events join its events, and what is written
        commits (or rolls back) with the others."""
        joined = getattr(self._local, "tx", None)
        if joined is not None:
            yield joined
            return
        events: list[dict[str, Any]] = []
        with self.engine.begin() as c:
            self._local.tx = (c, events)
            try:
                yield c, events
                if events:
                    self._lock_audit(c)
                edge = self._append(c, events) if events else None
            finally:
                self._local.tx = None
        if edge is not None:
            self._edge = edge

    def together(self, jobs: Sequence[Job]) -> list[tuple[bool, Any]]:
        """Run the writes ``jobs`` (function, args, keyword args) in one transaction: one
        commit, one append to the audit log, for all. Each gets (True, its result) or (False,
        its exception). If a job raises, nothing of them is kept and each runs again in a
        transaction of its own, so that only the one that fails fails (its exception, as it
        would have raised alone); if the commit fails, each is told its error. A job must
        not act outside the database before its transaction commits (each of
        ``submit_many``, ``record_results``, ``receive`` writes only rows)."""
        if len(jobs) > 1:
            in_job = False  # whether what raised is a job (else the append or the commit)
            try:
                with self._tx():
                    results = []
                    for fn, args, kwargs in jobs:
                        in_job = True
                        results.append(fn(*args, **kwargs))
                        in_job = False
                return [(True, r) for r in results]
            except Exception as e:  # noqa: BLE001 - told to each job, or each runs alone
                if not in_job:
                    # The audit append or the commit itself failed (a full disk, a lost
                    # connection): as it would have for each job alone. Running them again
                    # could repeat what an ambiguous commit did keep.
                    return [(False, e)] * len(jobs)
        out: list[tuple[bool, Any]] = []
        for fn, args, kwargs in jobs:
            try:
                out.append((True, fn(*args, **kwargs)))
            except Exception as e:  # noqa: BLE001 - the caller raises it where it waits
                out.append((False, e))
        return out

    def _lock_audit(self, c: sa.Connection) -> None:
        """Serialise audit appends across processes until this transaction ends.

        PostgreSQL: a transaction-level advisory lock named after the schema, so two
        gateway processes on one schema append one after the other (each reads the size
        only once it holds the lock) and the log stays one linear tree; it is released by
        the commit or rollback. SQLite needs none: a write transaction is already
        exclusive, and a second writer fails as busy rather than interleaving."""
        if self.engine.dialect.name == "postgresql":
            c.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended("
                              "'blo-gateway audit ' || current_schema(), 0))"))

    def _append(self, c: sa.Connection, events: list[dict[str, Any]]) -> CompactRange:
        edge = self._load_edge(c).copy()
        leaves: list[tuple[Any, ...]] = []
        nodes: list[tuple[Any, ...]] = []
        for ev in events:
            data = encode_leaf({"v": 1, "seq": edge.size, "office": self.office_id, **ev})
            h = leaf_hash(LEAF_PREFIX + data)
            leaves.append((edge.size, ev["t"], data, h))
            nodes += edge.append(h)  # (level, idx, hash)
        self._insert_rows(c, audit_leaves, ("idx", "t", "data", "hash"), leaves)
        self._insert_rows(c, audit_nodes, ("level", "idx", "hash"), nodes)
        return edge

    def _insert_rows(self, c: sa.Connection, table: sa.Table, columns: tuple[str, ...],
                     rows: Sequence[tuple[Any, ...]], *, ignore: bool = False) -> None:
        """INSERT ``rows`` (tuples in the order of ``columns``; ints, bytes, str, None:
        values the driver takes as they are) with the driver's executemany; with
        ``ignore``, rows that violate a unique constraint are skipped (``_insert_ignore``).

        For the hot inserts of every message (audit leaves and tree nodes, outbox, inbox,
        receipts, storage keys): Core's executemany processes each row's parameters in
        Python, which cost more than the insert itself. The statement is still rendered by
        SQLAlchemy for this dialect (once per table, columns and ``ignore``), so it is the
        same INSERT on SQLite and PostgreSQL; on PostgreSQL, rows without ``ignore`` go by
        ``COPY`` (``_copy_rows``)."""
        if not rows:
            return
        if not ignore and c.dialect.name == "postgresql":
            self._copy_rows(c, table, columns, rows)
            return
        key = (table.name, columns, ignore)
        if key not in self._driver_sql:
            compiled = (self._insert_ignore(table) if ignore else sa.insert(table)).values(
                {name: sa.bindparam(name) for name in columns}).compile(dialect=c.dialect)
            if compiled.positional:  # e.g. SQLite's "?": the row's values in rendered order
                names = tuple(compiled.positiontup or ())
                if sorted(names) != sorted(columns):
                    raise StorageError(f"cannot render the insert into {table.name}")
                self._driver_sql[key] = (str(compiled), tuple(columns.index(n) for n in names))
            else:  # e.g. psycopg's "%(name)s": one mapping per row
                self._driver_sql[key] = (str(compiled), None)
        sql, order = self._driver_sql[key]
        params: Sequence[Any]
        if order is None:
            params = [dict(zip(columns, r, strict=True)) for r in rows]
        elif order == tuple(range(len(columns))):
            params = rows
        else:
            params = [tuple(r[i] for i in order) for r in rows]
        c.exec_driver_sql(sql, params)

    def _copy_rows(self, c: sa.Connection, table: sa.Table, columns: tuple[str, ...],
                   rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL: the rows by ``COPY ... FROM STDIN`` on this transaction's connection.
        psycopg's executemany sends each row as its own statement in a pipeline, with some
        20 µs of Python per row; COPY takes them in one stream for a quarter of that (the
        same rows, the same constraints: a violation fails the transaction, and a driver error
        is raised as SQLAlchemy's, as from any other statement)."""
        import psycopg
        from psycopg import sql

        raw: Any = c.connection.dbapi_connection
        key = (table.name, columns)
        stmt = self._copy_sql.get(key)
        if stmt is None:
            stmt = self._copy_sql[key] = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
            ).as_bytes(raw)
        try:
            with raw.cursor() as cur, cur.copy(stmt) as copy:
                for r in rows:
                    copy.write_row(r)
        except psycopg.Error as e:  # as SQLAlchemy would raise it: the store's error tree
            raise sa.exc.DBAPIError.instance(stmt.decode("utf-8", "replace"), None, e,
                                             psycopg.Error) from e

    def _insert_ignore(self, table: sa.Table) -> Any:
        """INSERT that skips rows violating a unique constraint (SQLite and PostgreSQL)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
