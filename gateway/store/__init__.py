"""The store layer: what a gateway keeps, and nothing it decides.

Envelopes (bytes kept verbatim, sealed at rest under per-envelope keys), outbox, inbox and
receipts, the audit log, cases, peers and nonces, users, directory history. SQLAlchemy 2
Core over SQLite (embedded default, WAL, ``synchronous=FULL`` so that "accepted" survives a
power cut) or PostgreSQL; the schema moves forward only by the Alembic migrations in
``gateway/store/migrations``. All methods are synchronous; writes run on one dedicated
thread (``AsyncStore``), which also makes SQLite's single writer a non-issue, and the hot
writes (submissions, delivery results, receptions) queued while one commits share the next
transaction (``StoreBase.together``); the delivery queue is read on a thread of its own
(``AsyncStore.read``). Nothing here holds
plaintext: envelopes are ciphertext plus routing metadata; users are stored by token hash.

One module per concept (``outbox``, ``inbox``, ``cases``, ``audit_log``, ``peers``,
``users``, ``keys``, ``directory``, ``idempotency``, ``courier``, ``drafts``), each a
mixin over ``engine.StoreBase``, whose ``_tx`` is the one unit of work: an event and its audit leaf
commit together. ``Store`` (in ``facade``) is all of them on one object; ``web`` holds the
web app's credentials and sessions and its page queries, on ``Store``'s transactions;
``leases`` (PostgreSQL) says which process of a gateway runs a role (advisory locks).
Must not: serve HTTP, render, read the clock (time comes in as ``now_ms``) or import
``node``, ``views`` or ``cli``.
"""

from gateway.store.cases import deadline_for
from gateway.store.engine import _sqlite_pragmas as _sqlite_pragmas  # tests set it on engines
from gateway.store.engine import make_engine, migrate, prepare_schema, schema_revision
from gateway.store.facade import AsyncStore, Store
from gateway.store.rows import (
    BundleClaim,
    Due,
    IdempotentAnswer,
    Incoming,
    OutboxItem,
    ReceiveResult,
    Submission,
)
from gateway.store.tables import metadata
from gateway.store.web import WebStore  # its tables join the metadata

__all__ = ["AsyncStore", "BundleClaim", "Due", "IdempotentAnswer", "Incoming", "OutboxItem",
           "ReceiveResult", "Store", "Submission", "WebStore", "deadline_for", "make_engine",
           "metadata", "migrate", "prepare_schema", "schema_revision"]
