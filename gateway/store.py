"""The store: envelopes (bytes kept verbatim), outbox, inbox, receipts, peer state, nonces, users.

SQLAlchemy 2 Core over SQLite (embedded default, WAL, ``synchronous=FULL`` so that
"accepted" survives a power cut) or PostgreSQL. The schema is created and moved
forward only by the Alembic migrations in ``gateway/migrations``. All methods are
synchronous and run on one dedicated thread (``AsyncStore``), which also makes
SQLite's single writer a non-issue. Nothing here holds plaintext: envelopes are
ciphertext plus routing metadata; users are stored by token hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import nacl.utils
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from gateway.audit import LEAF_PREFIX, encode_leaf
from gateway.errors import ConfigError, Conflict, NotFound, Replay, Shredded, StorageError
from gateway.merkle import (
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
)
from gateway.messages import MessageType
from gateway.workflow import (
    DEFAULT_DEADLINE_HOURS,
    WAITING,
    InvalidTransition,
    Step,
    transition,
)

__all__ = ["AsyncStore", "Incoming", "OutboxItem", "ReceiveResult", "Store", "Submission",
           "metadata"]

metadata = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

envelopes = sa.Table(
    "envelopes", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("direction", sa.String(3), nullable=False),  # "out" | "in"
    sa.Column("message_id", sa.LargeBinary(16), nullable=False),
    sa.Column("sender", sa.String(64), nullable=False),
    sa.Column("recipients", sa.String(1100), nullable=False),
    sa.Column("message_type", sa.SmallInteger, nullable=False),
    sa.Column("sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
    sa.Column("stored_at_ms", sa.BigInteger, nullable=False),
    sa.Column("case_reference", sa.String(128), nullable=False),
    sa.Column("in_reply_to", sa.String(32), nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("handling_code", sa.SmallInteger, nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Column("shredded_at_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("sender", "message_id", name="uq_envelopes_sender_message"),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False),
    sa.Column("peer", sa.String(64), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # queued | delivered | dead
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
    sa.Column("last_error_code", sa.String(32), nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("envelope_id", "peer", name="uq_outbox_envelope_peer"),
    sa.Index("ix_outbox_due", "peer", "state", "priority", "id"),
)

inbox = sa.Table(
    "inbox", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False,
              unique=True),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.Column("opened_at_ms", sa.BigInteger, nullable=True),
    sa.Column("opened_by", sa.String(64), nullable=True),
)

receipts = sa.Table(
    "receipts", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False),
    sa.Column("office", sa.String(64), nullable=False),  # the receiving office that signed
    sa.Column("direction", sa.String(8), nullable=False),  # "issued" | "received"
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("received_at_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("envelope_id", "office", name="uq_receipts_envelope_office"),
)

peer_state = sa.Table(
    "peer_state", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_success_ms", sa.BigInteger, nullable=True),
    sa.Column("last_failure_ms", sa.BigInteger, nullable=True),
    sa.Column("last_error_code", sa.String(32), nullable=True),
    sa.Column("last_error", sa.String(300), nullable=True),
    sa.Column("last_seen_ms", sa.BigInteger, nullable=True),
    sa.Column("clock_skew_ms", sa.BigInteger, nullable=True),
)

nonces = sa.Table(
    "nonces", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.String(32), primary_key=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False, index=True),
)

users = sa.Table(
    "users", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_sha256", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("disabled_at_ms", sa.BigInteger, nullable=True),
)

directory_history = sa.Table(  # every trust directory this gateway accepted; highest wins
    "directory_history", metadata,
    sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("accepted_at_ms", sa.BigInteger, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # the signed directory, verbatim
)

audit_leaves = sa.Table(
    "audit_leaves", metadata,
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("t", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

audit_nodes = sa.Table(
    "audit_nodes", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # signed, with cosignatures as they arrive
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

witnessed_by = sa.Table(  # the latest checkpoint of OUR log that each peer cosigned
    "witnessed_by", metadata,
    sa.Column("peer", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

witness_log = sa.Table(  # every checkpoint of a PEER's log that we cosigned
    "witness_log", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(128), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

audit_alerts = sa.Table(
    "audit_alerts", metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("t", sa.BigInteger, nullable=False),
    sa.Column("origin", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(300), nullable=False),
)

case_items = sa.Table(
    "case_items", metadata,
    sa.Column("root_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("message_type", sa.SmallInteger, nullable=False),
    sa.Column("root_step", sa.Integer, nullable=False),
    sa.Column("case_reference", sa.String(128), nullable=False, index=True),
    sa.Column("opened_by", sa.String(64), nullable=False),  # office that sent the root
    sa.Column("counterpart", sa.String(64), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Column("answered_ms", sa.BigInteger, nullable=True),
)

content_keys = sa.Table(  # per-envelope storage keys; deleting one shreds that envelope
    "content_keys", metadata,
    sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), primary_key=True,
              autoincrement=False),
    sa.Column("key", sa.LargeBinary(32), nullable=False),
)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    envelope_id: int
    peer: str
    message_id: bytes
    sha256: bytes
    raw: bytes
    expires_at_ms: int
    attempts: int


@dataclass(frozen=True)
class Incoming:
    """A verified envelope to store, with what the receipt needs."""

    message_id: bytes
    sender: str
    recipients: tuple[str, ...]
    message_type: int
    sha256: bytes
    raw: bytes
    created_at_ms: int
    expires_at_ms: int
    case_reference: str
    in_reply_to: str
    priority: int
    handling_code: int
    deadline_ms: int
    workflow_step: int = 0


@dataclass(frozen=True)
class Submission:
    envelope: Incoming
    peers: tuple[str, ...]
    now_ms: int
    submitted_by: str | None
    step: Step | None = None
    deadline_ms: int = 0


@dataclass(frozen=True)
class ReceiveResult:
    status: str  # "accepted" | "duplicate" | "conflict" | "invalid"
    receipt: bytes
    detail: str = ""


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


def make_engine(url: str, *, schema: str | None = None) -> sa.Engine:
    """An engine for ``url``; ``schema`` (PostgreSQL only) isolates one gateway's tables."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    args: dict[str, Any] = {}
    if schema and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ConfigError(f"database_schema {schema!r}: lower-case letters, digits, _")
    if schema:
        args["options"] = f"-csearch_path={schema}"
    engine = sa.create_engine(url, connect_args=args, pool_pre_ping=True)
    if schema:
        with engine.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


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


class _Steps:
    """Workflow steps of one transaction, written in bulk; later messages of the same batch
    see the states that earlier ones made."""

    def __init__(self, c: sa.Connection) -> None:
        self.c = c
        self.state: dict[str, tuple[str, str]] = {}
        self.new: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []

    def current(self, root: str) -> tuple[str, str] | None:
        if root not in self.state:
            row = self.c.execute(sa.select(case_items.c.kind, case_items.c.state).where(
                case_items.c.root_id == root)).first()
            if row is None:
                return None
            self.state[root] = (row.kind, row.state)
        return self.state[root]

    def add(self, ev: list[dict[str, Any]], step: Step, env: Incoming, opened_by: str,
            counterpart: str, now_ms: int, deadline_ms: int) -> None:
        self.state[step.root] = (step.kind, step.state_to)
        if step.new_item:
            self.new.append({
                "root_id": step.root, "kind": step.kind, "message_type": env.message_type,
                "root_step": env.workflow_step, "case_reference": env.case_reference,
                "opened_by": opened_by, "counterpart": counterpart, "state": step.state_to,
                "priority": env.priority, "created_ms": now_ms, "updated_ms": now_ms,
                "deadline_ms": deadline_ms})
        else:
            waiting = WAITING[step.kind]
            answered = step.state_from in waiting and step.state_to not in waiting
            self.moves.append({"root": step.root, "st": step.state_to, "now": now_ms,
                               "ans": now_ms if answered else None})
        ev.append({"t": now_ms, "type": "workflow.transition", "case_id": step.root,
                   "message_id": env.message_id.hex(), "state_to": step.state_to,
                   **({"state_from": step.state_from} if step.state_from else {})})

    def flush(self) -> None:
        if self.new:
            self.c.execute(sa.insert(case_items), self.new)
        if self.moves:
            # New items first: a reply in the same batch may move an item just opened.
            self.c.execute(
                sa.update(case_items).where(case_items.c.root_id == sa.bindparam("root"))
                .values(state=sa.bindparam("st"), updated_ms=sa.bindparam("now"),
                        answered_ms=sa.func.coalesce(case_items.c.answered_ms,
                                                     sa.bindparam("ans", type_=sa.BigInteger))),
                self.moves)
        self.new, self.moves = [], []


class Store:
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
        #: A probe that changes when another process appended to the audit log
        #: (``gateway.home.users_stamp``); None: this process is the only writer.
        self.external_writes: Callable[[], object] | None = None
        self._external_mark: object = None

    # ------------------------------------------------------------------ audit log

    def _load_edge(self, c: sa.Connection) -> CompactRange:
        if self._edge is not None and self.external_writes is not None:
            # Another process (``blo-gateway users`` / ``tokens``) may have appended since.
            mark = self.external_writes()
            if mark != self._external_mark:
                self._edge, self._external_mark = None, mark
        if self._edge is None:
            size = int(c.execute(sa.select(sa.func.count()).select_from(audit_leaves))
                       .scalar() or 0)
            tree, hashes, start = _DbTree(c), [], 0
            for level in range(size.bit_length() - 1, -1, -1):
                if size >> level & 1:
                    hashes.append(tree.node(level, start >> level))
                    start += 1 << level
            self._edge = CompactRange(size, hashes)
        return self._edge

    @contextlib.contextmanager
    def _tx(self) -> Iterator[tuple[sa.Connection, list[dict[str, Any]]]]:
        """A transaction in which audit events can be recorded (appended on commit)."""
        events: list[dict[str, Any]] = []
        try:
            with self.engine.begin() as c:
                yield c, events
                edge = self._append(c, events) if events else None
        except BaseException:
            self._edge = None  # re-read from the store next time (another writer, a rollback)
            raise
        if edge is not None:
            self._edge = edge

    def _append(self, c: sa.Connection, events: list[dict[str, Any]]) -> CompactRange:
        edge = self._load_edge(c).copy()
        leaves, nodes = [], []
        for ev in events:
            data = encode_leaf({"v": 1, "seq": edge.size, "office": self.office_id, **ev})
            h = leaf_hash(LEAF_PREFIX + data)
            leaves.append({"idx": edge.size, "t": ev["t"], "data": data, "hash": h})
            nodes += [{"level": lv, "idx": i, "hash": nh} for lv, i, nh in edge.append(h)]
        c.execute(sa.insert(audit_leaves), leaves)
        c.execute(sa.insert(audit_nodes), nodes)
        return edge

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
            if line not in note:
                c.execute(sa.update(audit_checkpoints).where(
                    audit_checkpoints.c.id == checkpoint_id).values(note=note + line))
            n = c.execute(sa.update(witnessed_by).where(witnessed_by.c.peer == peer)
                          .values(size=size, updated_ms=now_ms)).rowcount
            if n == 0:
                c.execute(sa.insert(witnessed_by).values(peer=peer, size=size,
                                                         updated_ms=now_ms))

    def witnessed_size(self, peer: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(witnessed_by.c.size).where(
                witnessed_by.c.peer == peer)).scalar() or 0)

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
                       now_ms: int) -> None:
        with self._tx() as (c, ev):
            c.execute(sa.insert(witness_log).values(origin=origin, size=size, root=root,
                                                    note=note, created_ms=now_ms))
            ev.append({"t": now_ms, "type": "checkpoint.cosigned", "peer": peer,
                       "origin": origin, "size": size, "root": root.hex()})

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
        """Everything an offline auditor needs from this store (no payloads, no keys)."""
        with self.engine.connect() as c:
            leaves = [bytes(r.data) for r in c.execute(
                sa.select(audit_leaves.c.data).order_by(audit_leaves.c.idx))]
            cps = [r.note for r in c.execute(
                sa.select(audit_checkpoints.c.note).order_by(audit_checkpoints.c.id))]
            witnessed = [{"origin": r.origin, "note": r.note} for r in c.execute(
                sa.select(witness_log.c.origin, witness_log.c.note)
                .order_by(witness_log.c.id))]
        return {"leaves": leaves, "checkpoints": cps, "witnessed": witnessed}

    # ------------------------------------------------------------------ outgoing

    def submit(self, env: Incoming, peers: Sequence[str], *, now_ms: int,
               submitted_by: str | None) -> None:
        """Store a sealed envelope and one outbox row per peer, atomically."""
        self.submit_many([Submission(env, tuple(peers), now_ms, submitted_by)])

    def submit_many(self, items: Sequence[Submission]) -> None:
        """Several submissions in one transaction (group commit); all or none are stored."""
        with self._tx() as (c, ev):
            ids = self._insert_envelopes(c, [(s.envelope, s.now_ms, s.submitted_by)
                                             for s in items], "out")
            ev.extend({"t": s.now_ms, "type": "message.created", "user": s.submitted_by or "-",
                       "message_id": s.envelope.message_id.hex(),
                       "message_type": _type_slug(s.envelope.message_type),
                       "envelope_sha256": s.envelope.sha256.hex(), "peers": list(s.peers)}
                      for s in items)
            steps = _Steps(c)
            for s in items:
                if s.step is not None:
                    steps.add(ev, s.step, s.envelope, self.office_id, s.peers[0], s.now_ms,
                              s.deadline_ms)
            steps.flush()
            c.execute(sa.insert(outbox), [
                {"envelope_id": eid, "peer": p, "state": "queued",
                 "priority": s.envelope.priority, "attempts": 0, "next_attempt_ms": 0,
                 "updated_at_ms": s.now_ms}
                for eid, s in zip(ids, items, strict=True) for p in s.peers])

    def case_state(self, root_id: str) -> tuple[str, str] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(case_items.c.kind, case_items.c.state).where(
                case_items.c.root_id == root_id)).first()
        return (row.kind, row.state) if row else None

    def envelope_by_id(self, message_id: bytes) -> dict[str, Any] | None:
        """The stored envelope with this id (sent or received) and its storage time."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(envelopes.c.raw, envelopes.c.sender,
                                      envelopes.c.stored_at_ms, envelopes.c.direction,
                                      envelopes.c.message_type, envelopes.c.shredded_at_ms,
                                      content_keys.c.key)
                            .outerjoin(content_keys,
                                       content_keys.c.envelope_id == envelopes.c.id)
                            .where(envelopes.c.message_id == message_id)).first()
        return _plain_row(row) if row else None

    def replies_to(self, message_id_hex: str, message_type: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [_plain_row(r) for r in c.execute(
                sa.select(envelopes.c.raw, envelopes.c.sender, envelopes.c.stored_at_ms,
                          envelopes.c.shredded_at_ms, content_keys.c.key)
                .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
                .where(envelopes.c.in_reply_to == message_id_hex,
                       envelopes.c.message_type == message_type,
                       envelopes.c.shredded_at_ms.is_(None))
                .order_by(envelopes.c.id))]

    def cases(self, *, limit: int = 500) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(case_items).order_by(case_items.c.created_ms.desc()).limit(limit))]

    def cases_between(self, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(case_items).where(case_items.c.created_ms >= start_ms,
                                            case_items.c.created_ms < end_ms))]

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
            "sha256": env.sha256, "raw": _seal_at_rest(k, env.raw),
            "created_at_ms": env.created_at_ms,
            "expires_at_ms": env.expires_at_ms, "stored_at_ms": now_ms,
            "case_reference": env.case_reference, "in_reply_to": env.in_reply_to,
            "priority": env.priority, "handling_code": env.handling_code,
            "deadline_ms": env.deadline_ms, "submitted_by": by}
            for (env, now_ms, by), k in zip(rows, keys, strict=True)])
        ids = [int(r[0]) for r in result]
        c.execute(sa.insert(content_keys), [{"envelope_id": i, "key": k}
                                            for i, k in zip(ids, keys, strict=True)])
        return ids

    def _insert_ignore(self, table: sa.Table) -> Any:
        """INSERT that skips rows violating a unique constraint (SQLite and PostgreSQL)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()

    def due(self, peer: str, now_ms: int, limit: int) -> list[OutboxItem]:
        """Queued items for ``peer`` whose time has come: urgent first, then oldest."""
        q = (sa.select(outbox.c.id, outbox.c.envelope_id, outbox.c.attempts, envelopes.c.message_id,
                       envelopes.c.sha256, envelopes.c.raw, envelopes.c.expires_at_ms,
                       content_keys.c.key)
             .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
             .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
             .where(outbox.c.peer == peer, outbox.c.state == "queued",
                    outbox.c.next_attempt_ms <= now_ms)
             .order_by(outbox.c.priority.desc(), outbox.c.id).limit(limit))
        with self.engine.connect() as c:
            return [OutboxItem(r.id, r.envelope_id, peer, r.message_id, r.sha256,
                               _open_at_rest(r.key, r.raw), r.expires_at_ms, r.attempts)
                    for r in c.execute(q)]

    def next_due_ms(self, peer: str) -> int | None:
        q = sa.select(sa.func.min(outbox.c.next_attempt_ms)).where(
            outbox.c.peer == peer, outbox.c.state == "queued")
        with self.engine.connect() as c:
            v = c.execute(q).scalar()
            return int(v) if v is not None else None

    def record_results(self, peer: str, *, now_ms: int,
                       delivered: Iterable[tuple[int, int, bytes, int]],
                       retry: Iterable[tuple[int, int, str, str]],
                       dead: Iterable[tuple[int, str, str]],
                       items: Sequence[OutboxItem] = ()) -> None:
        """One transaction: delivered (outbox id, envelope id, receipt, received at),
        retry (outbox id, next attempt, code, message), dead (outbox id, code, message).
        ``items`` are the outbox items concerned, for the audit log."""
        delivered, retry, dead = list(delivered), list(retry), list(dead)
        oid: sa.BindParameter[int] = sa.bindparam("oid", type_=sa.BigInteger)
        by_id = {i.outbox_id: i for i in items}
        with self._tx() as (c, ev):
            for i in items:
                if i.attempts == 0 and not any(d[0] == i.outbox_id for d in dead
                                               if d[1] == "EXPIRED"):
                    ev.append({"t": now_ms, "type": "message.sent", "peer": peer,
                               "message_id": i.message_id.hex(),
                               "envelope_sha256": i.sha256.hex()})
            for o, _, raw, at in delivered:
                if o in by_id:
                    ev.append({"t": now_ms, "type": "message.delivered", "peer": peer,
                               "message_id": by_id[o].message_id.hex(),
                               "envelope_sha256": by_id[o].sha256.hex(),
                               "receipt_sha256": hashlib.sha256(raw).hexdigest(),
                               "received_at": at})
            for o, code, _ in dead:
                if o in by_id:
                    ev.append({"t": now_ms, "type": "message.dead", "peer": peer,
                               "message_id": by_id[o].message_id.hex(),
                               "envelope_sha256": by_id[o].sha256.hex(), "code": code})
            if delivered:
                c.execute(sa.update(outbox).where(outbox.c.id == oid, outbox.c.state == "queued")
                          .values(state="delivered", delivered_at_ms=now_ms, updated_at_ms=now_ms,
                                  attempts=outbox.c.attempts + 1, last_error_code=None,
                                  last_error=None), [{"oid": d[0]} for d in delivered])
                c.execute(self._insert_ignore(receipts), [
                    {"envelope_id": eid, "office": peer, "direction": "received", "raw": raw,
                     "received_at_ms": at} for _, eid, raw, at in delivered])
            if retry:
                c.execute(sa.update(outbox).where(outbox.c.id == oid).values(
                    attempts=outbox.c.attempts + 1, next_attempt_ms=sa.bindparam("next_ms"),
                    last_error_code=sa.bindparam("code"), last_error=sa.bindparam("msg"),
                    updated_at_ms=now_ms),
                    [{"oid": o, "next_ms": n, "code": code, "msg": m[:300]}
                     for o, n, code, m in retry])
            if dead:
                c.execute(sa.update(outbox).where(outbox.c.id == oid).values(
                    state="dead", attempts=outbox.c.attempts + 1,
                    last_error_code=sa.bindparam("code"), last_error=sa.bindparam("msg"),
                    updated_at_ms=now_ms),
                    [{"oid": o, "code": code, "msg": m[:300]} for o, code, m in dead])

    # ------------------------------------------------------------------ incoming

    def receive(self, items: Sequence[Incoming], *, now_ms: int,
                sign_receipt: Callable[[Incoming, int], bytes], me: str,
                nonce: tuple[str, str, int] | None = None,
                events: Sequence[dict[str, Any]] = ()) -> list[ReceiveResult]:
        """Dedupe on (sender, message id), store new envelopes and their receipts, atomically;
        with ``nonce`` (peer, nonce, expiry) the request's nonce too: a replay raises Replay
        and stores nothing. ``events`` are further audit events of the same request."""
        out: list[ReceiveResult | None] = [None] * len(items)
        with self._tx() as (c, ev):
            if nonce is not None:
                peer, value, expires = nonce
                if c.execute(sa.select(nonces.c.nonce).where(
                        nonces.c.peer == peer, nonces.c.nonce == value)).first() is not None:
                    raise Replay("this request was already received (same nonce)")
                c.execute(sa.insert(nonces).values(peer=peer, nonce=value, expires_ms=expires))
            ev.extend(events)
            known: dict[tuple[str, bytes], tuple[int, bytes]] = {}
            for row in c.execute(sa.select(envelopes.c.id, envelopes.c.sender,
                                           envelopes.c.message_id, envelopes.c.sha256)
                                 .where(envelopes.c.message_id.in_(
                                     {e.message_id for e in items}))):
                known[(row.sender, row.message_id)] = (row.id, row.sha256)
            fresh: list[tuple[int, Incoming, bytes]] = []
            steps = _Steps(c)
            for i, env in enumerate(items):
                key = (env.sender, env.message_id)
                if key in known:
                    continue
                try:
                    step = transition(
                        message_id=env.message_id.hex(),
                        message_type=MessageType(env.message_type), step=env.workflow_step,
                        in_reply_to=env.in_reply_to,
                        current=steps.current(env.in_reply_to) if env.in_reply_to else None)
                except InvalidTransition as e:
                    out[i] = ReceiveResult("invalid", b"", e.message)
                    ev.append({"t": now_ms, "type": "envelope.rejected", "peer": env.sender,
                               "message_id": env.message_id.hex(),
                               "envelope_sha256": env.sha256.hex(), "code": e.code})
                    continue
                if step is not None:
                    steps.add(ev, step, env, env.sender, env.sender, now_ms,
                              env.deadline_ms or deadline_for(env, now_ms, self.deadline_hours))
                receipt = sign_receipt(env, now_ms)
                known[key] = (-1 - len(fresh), env.sha256)  # a repeat within this batch
                fresh.append((i, env, receipt))
            steps.flush()
            ids = self._insert_envelopes(c, [(e, now_ms, None) for _, e, _ in fresh], "in")
            if fresh:
                c.execute(sa.insert(inbox), [{"envelope_id": eid, "received_at_ms": now_ms}
                                             for eid in ids])
                c.execute(sa.insert(receipts), [
                    {"envelope_id": eid, "office": me, "direction": "issued", "raw": r,
                     "received_at_ms": now_ms} for eid, (_, _, r) in zip(ids, fresh,
                                                                          strict=True)])
            for (i, env, receipt) in fresh:
                out[i] = ReceiveResult("accepted", receipt)
                ev.append({"t": now_ms, "type": "envelope.received", "peer": env.sender,
                           "message_id": env.message_id.hex(),
                           "message_type": _type_slug(env.message_type),
                           "envelope_sha256": env.sha256.hex(),
                           "receipt_sha256": hashlib.sha256(receipt).hexdigest()})
            stored = {eid for eid, _ in known.values() if eid > 0}
            receipt_of = {r.envelope_id: r.raw for r in c.execute(
                sa.select(receipts.c.envelope_id, receipts.c.raw).where(
                    receipts.c.envelope_id.in_(stored), receipts.c.office == me))} if stored \
                else {}
            fresh_receipt = {-1 - n: r for n, (_, _, r) in enumerate(fresh)}
            for i, env in enumerate(items):
                if out[i] is not None:
                    continue
                eid, sha = known[(env.sender, env.message_id)]
                if not hmac.compare_digest(sha, env.sha256):
                    out[i] = ReceiveResult("conflict", b"")
                    ev.append({"t": now_ms, "type": "envelope.rejected", "peer": env.sender,
                               "message_id": env.message_id.hex(),
                               "envelope_sha256": env.sha256.hex(), "code": "CONFLICT"})
                else:
                    raw = receipt_of.get(eid, b"") if eid > 0 else fresh_receipt[eid]
                    out[i] = ReceiveResult("duplicate", raw)
        return [r for r in out if r is not None]

    def remember_nonce(self, peer: str, nonce: str, *, now_ms: int, expires_ms: int) -> bool:
        """False if (peer, nonce) was seen and has not expired: a replay."""
        with self.engine.begin() as c:
            row = c.execute(sa.select(nonces.c.expires_ms).where(
                nonces.c.peer == peer, nonces.c.nonce == nonce)).first()
            if row is not None:
                return False
            c.execute(sa.insert(nonces).values(peer=peer, nonce=nonce, expires_ms=expires_ms))
            return True

    def prune_nonces(self, now_ms: int) -> int:
        with self.engine.begin() as c:
            return int(c.execute(sa.delete(nonces).where(nonces.c.expires_ms < now_ms)).rowcount)

    # ------------------------------------------------------------------ peers

    def peer_get(self, peer: str) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(sa.select(peer_state).where(peer_state.c.peer == peer)).first()
        if row is None:
            return {"peer": peer, "failures": 0, "next_attempt_ms": 0, "last_success_ms": None,
                    "last_failure_ms": None, "last_error_code": None, "last_error": None,
                    "last_seen_ms": None, "clock_skew_ms": None}
        return dict(row._mapping)

    def peer_update(self, peer: str, **values: Any) -> None:
        with self.engine.begin() as c:
            n = c.execute(sa.update(peer_state).where(peer_state.c.peer == peer)
                          .values(**values)).rowcount
            if n == 0:
                base = {"failures": 0, "next_attempt_ms": 0, **values}
                c.execute(sa.insert(peer_state).values(peer=peer, **base))

    def peer_seen(self, peer: str, now_ms: int, skew_ms: int) -> None:
        """Authenticated traffic from ``peer``: reset its backoff and its messages' waits."""
        with self.engine.begin() as c:
            n = c.execute(sa.update(peer_state).where(peer_state.c.peer == peer).values(
                last_seen_ms=now_ms, clock_skew_ms=skew_ms, failures=0,
                next_attempt_ms=0)).rowcount
            if n == 0:
                c.execute(sa.insert(peer_state).values(peer=peer, failures=0, next_attempt_ms=0,
                                                       last_seen_ms=now_ms,
                                                       clock_skew_ms=skew_ms))
            c.execute(sa.update(outbox).where(outbox.c.peer == peer, outbox.c.state == "queued",
                                              outbox.c.next_attempt_ms > now_ms)
                      .values(next_attempt_ms=now_ms))

    def backlog(self) -> dict[str, dict[str, int]]:
        q = sa.select(outbox.c.peer, outbox.c.state, sa.func.count()).group_by(
            outbox.c.peer, outbox.c.state)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as c:
            for peer, state, n in c.execute(q):
                out.setdefault(peer, {})[state] = int(n)
        return out

    # ------------------------------------------------------------------ officer views

    def message_status(self, message_id: bytes, sender: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            env = c.execute(sa.select(envelopes).where(envelopes.c.sender == sender,
                                                       envelopes.c.message_id == message_id)
                            ).first()
            if env is None:
                return None
            rows = c.execute(sa.select(outbox).where(outbox.c.envelope_id == env.id)
                             .order_by(outbox.c.peer)).all()
            recs = {r.office: r for r in c.execute(sa.select(receipts).where(
                receipts.c.envelope_id == env.id))}
        return {"envelope": dict(env._mapping), "deliveries": [
            {**dict(r._mapping), "receipt": recs[r.peer].raw if r.peer in recs else None,
             "receipt_at_ms": recs[r.peer].received_at_ms if r.peer in recs else None}
            for r in rows]}

    def list_outgoing(self, limit: int, sender: str) -> list[dict[str, Any]]:
        q = (sa.select(envelopes.c.id, envelopes.c.message_id, envelopes.c.message_type,
                       envelopes.c.recipients, envelopes.c.created_at_ms,
                       envelopes.c.case_reference, envelopes.c.priority)
             .where(envelopes.c.direction == "out", envelopes.c.sender == sender)
             .order_by(envelopes.c.id.desc()).limit(limit))
        with self.engine.connect() as c:
            envs = [dict(r._mapping) for r in c.execute(q)]
            ids = [e["id"] for e in envs]
            states: dict[int, list[tuple[str, str]]] = {}
            if ids:
                for r in c.execute(sa.select(outbox.c.envelope_id, outbox.c.peer,
                                             outbox.c.state).where(outbox.c.envelope_id.in_(ids))):
                    states.setdefault(r.envelope_id, []).append((r.peer, r.state))
        for e in envs:
            e["states"] = dict(states.get(e["id"], []))
        return envs

    def list_inbox(self, limit: int) -> list[dict[str, Any]]:
        q = (sa.select(envelopes.c.message_id, envelopes.c.sender, envelopes.c.message_type,
                       envelopes.c.created_at_ms, envelopes.c.case_reference,
                       envelopes.c.priority, envelopes.c.handling_code, envelopes.c.deadline_ms,
                       inbox.c.received_at_ms, inbox.c.opened_at_ms, inbox.c.opened_by)
             .join(inbox, inbox.c.envelope_id == envelopes.c.id)
             .order_by(inbox.c.id.desc()).limit(limit))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def inbox_envelope(self, message_id: bytes) -> list[dict[str, Any]]:
        q = (sa.select(envelopes.c.id, envelopes.c.raw, envelopes.c.sender,
                       envelopes.c.stored_at_ms, envelopes.c.shredded_at_ms, content_keys.c.key,
                       inbox.c.id.label("iid"))
             .join(inbox, inbox.c.envelope_id == envelopes.c.id)
             .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
             .where(envelopes.c.message_id == message_id))
        with self.engine.connect() as c:
            return [_plain_row(r) for r in c.execute(q)]

    def shred_expired(self, before_ms: int, now_ms: int) -> int:
        """Crypto-shredding: destroy the storage keys of envelopes stored before ``before_ms``
        (and the ciphertext with them). Their metadata and audit leaves remain; the audit
        log records each shredding. Undelivered copies go to the dead letters."""
        with self._tx() as (c, ev):
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

    def mark_opened(self, inbox_id: int, user: str, now_ms: int, *, message_id: bytes,
                    sender: str) -> None:
        """Record a read: the first reader in the inbox, every read in the audit log."""
        with self._tx() as (c, ev):
            c.execute(sa.update(inbox).where(inbox.c.id == inbox_id, inbox.c.opened_at_ms.is_(None))
                      .values(opened_at_ms=now_ms, opened_by=user))
            ev.append({"t": now_ms, "type": "message.opened", "user": user, "peer": sender,
                       "message_id": message_id.hex()})

    # ------------------------------------------------------------------ users

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

    def ping(self) -> None:
        with self.engine.connect() as c:
            c.execute(sa.text("SELECT 1"))


def _seal_at_rest(key: bytes, raw: bytes) -> bytes:
    nonce = nacl.utils.random(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, raw, b"blo-gateway/at-rest/v1")


def _open_at_rest(key: bytes | None, blob: bytes) -> bytes:
    if key is None:
        raise Shredded("this message was crypto-shredded at the end of its retention period")
    return ChaCha20Poly1305(key).decrypt(blob[:12], blob[12:], b"blo-gateway/at-rest/v1")


def _plain_row(row: Any) -> dict[str, Any]:
    """A row with ``raw`` decrypted from its at-rest form (Shredded if its key is gone)."""
    d = dict(row._mapping)
    if d.get("shredded_at_ms") is not None:
        raise Shredded("this message was crypto-shredded at the end of its retention period")
    d["raw"] = _open_at_rest(d.pop("key"), d["raw"])
    return d


def deadline_for(env: Incoming, now_ms: int,
                 hours: dict[str, dict[int, float]] | None = None) -> int:
    """The default answer deadline of a new item: by root type and priority."""
    table = (hours or DEFAULT_DEADLINE_HOURS).get(_type_slug(env.message_type), {})
    h = table.get(env.priority) or table.get(1) or 72
    return now_ms + int(h * 3600_000)


def _type_slug(message_type: int) -> str:
    try:
        return MessageType(message_type).slug
    except ValueError:
        return "unknown"


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class AsyncStore:
    """Runs ``Store`` methods on one dedicated thread; database errors become StorageError."""

    def __init__(self, store: Store) -> None:
        self.sync = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._pending: list[tuple[Submission, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Submission) -> None:
        """Group commit: submissions that arrive while a commit is running share the next
        one. Returns once this submission is durably stored."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.call(self.sync.submit_many, [s for s, _ in batch])
            except Exception as e:  # noqa: BLE001 - every waiter gets the failure
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
            else:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        except (OperationalError, SQLAlchemyError) as e:
            raise StorageError(f"the store refused the operation ({type(e).__name__}); "
                               "nothing was accepted") from e

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.sync.engine.dispose()
