"""``Store`` (every concept of this package on one object) and ``AsyncStore`` (its thread)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from gateway.protocol.errors import StorageError, StorageFull
from gateway.store.audit_log import AuditLogMixin
from gateway.store.cases import CasesMixin
from gateway.store.directory import DirectoryHistoryMixin
from gateway.store.drafts import DraftsMixin
from gateway.store.engine import Job
from gateway.store.gauges import GaugesMixin
from gateway.store.inbox import InboxMixin
from gateway.store.outbox import OutboxMixin
from gateway.store.peers import PeersMixin
from gateway.store.rows import Submission
from gateway.store.users import UsersMixin

__all__ = ["AsyncStore", "Store", "storage_error"]


class Store(OutboxMixin, InboxMixin, CasesMixin, AuditLogMixin, DirectoryHistoryMixin,
            PeersMixin, UsersMixin, GaugesMixin, DraftsMixin):
    """Synchronous queries; use through ``AsyncStore`` from the event loop.

    Writes that are audit events append their leaves to the audit log in the same
    transaction; the in-memory right edge of the tree is replaced only after the commit,
    so a failed transaction leaves no trace in either.

    One class over the concepts: each mixin is one module of this package; they share
    the engine and the unit of work of ``engine.StoreBase``."""


#: How a full disk shows: SQLite's SQLITE_FULL, PostgreSQL's SQLSTATE 53100 (disk_full).
_FULL = ("database or disk is full", "no space left on device", "could not extend file")


def storage_error(e: Exception) -> StorageError:
    """The store error a database exception becomes: full disk (507) or unavailable (503:
    unreachable, restarting, connection dropped, locked). Both say nothing was accepted."""
    orig = getattr(e, "orig", None)
    text = str(orig or e).lower()
    if getattr(orig, "sqlstate", None) == "53100" or any(f in text for f in _FULL):
        return StorageFull("the database's disk is full; nothing was accepted. Free space "
                           "and retry")
    return StorageError(f"the store refused the operation ({type(e).__name__}); nothing was "
                        "accepted, retry later")


P = ParamSpec("P")
T = TypeVar("T")


class AsyncStore:
    """Runs ``Store`` methods on one dedicated thread; database errors become StorageError."""

    def __init__(self, store: Store) -> None:
        self.sync = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        #: Reads that need not wait behind the writer's queue (``read``).
        self._readers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-read")
        self._pending: list[tuple[Submission, asyncio.Future[None]]] = []
        self._writes: list[tuple[Job, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Told (method name, seconds) after each call, failed or not: the store-latency
        #: histogram of ``gateway.node.metrics``; None: nobody is watching.
        self.observe: Callable[[str, float], None] | None = None

    async def submit(self, item: Submission) -> None:
        """Group commit: submissions that arrive while a commit is running share the next
        one (with the other writes queued by ``write``). Returns once this submission is
        durably stored."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        self._start_flusher()
        await fut

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` (a write that acts only on rows: ``Store.together``) in the next group
        commit, with the submissions and the other writes queued meanwhile: one transaction
        and one commit for them all, as long as none fails (``Store.together``). Returns
        once it is durably stored."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._writes.append(((fn, args, kwargs), fut))
        self._start_flusher()
        return await fut

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending or self._writes:
            batch, self._pending = self._pending, []
            writes, self._writes = self._writes, []
            jobs: list[Job] = [job for job, _ in writes]
            # Who waits for each job; the submissions (one job for all) are told None.
            waiters: list[tuple[list[asyncio.Future[Any]], bool]] = [
                ([fut], True) for _, fut in writes]
            if batch:
                jobs.insert(0, (self.sync.submit_many, ([s for s, _ in batch],), {}))
                waiters.insert(0, ([fut for _, fut in batch], False))
            try:
                results = await self.call(self.sync.together, jobs)
            except Exception as e:  # noqa: BLE001 - every waiter gets the failure
                results = [(False, e)] * len(jobs)
            for (futures, returns), (ok, value) in zip(waiters, results, strict=True):
                error = storage_error(value) if isinstance(value, SQLAlchemyError) else value
                for fut in futures:
                    if fut.done():
                        continue
                    if ok:
                        fut.set_result(value if returns else None)
                    else:
                        fut.set_exception(error)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` on the writer's thread, after every call made before it."""
        return await self._run(self._pool, fn, *args, **kwargs)

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn``, a read, on its own connection and thread: it sees every write committed
        before it is called, and does not wait behind the writes queued since (group
        commits, delivery results)."""
        return await self._run(self._readers, fn, *args, **kwargs)

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[P, T], *args: P.args,
                   **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        try:
            return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))
        except (OperationalError, SQLAlchemyError) as e:
            raise storage_error(e) from e
        finally:
            if self.observe is not None:
                self.observe(getattr(fn, "__name__", "call"), time.perf_counter() - t0)

    def close(self) -> None:
        self._readers.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self.sync.engine.dispose()
