"""Duties: the work that runs once per gateway, and which process of it runs that work.

A gateway may be several ``serve`` processes on one PostgreSQL schema. Every process
serves the peer and officer APIs (they share everything through the database: sending,
receiving, witnessing a peer's checkpoint — a compare-and-set in the store — and the
audit log, whose appends are serialised there). The *roles* run in one process at a
time:

* ``deliver:<office>`` — the delivery worker for that peer (``node.delivery``);
* ``checkpoint`` — signing checkpoints of our log and having the peers cosign them
  (``node.witness``), and the housekeeping sweeps (nonces, idempotency keys, retention).

``Roles.run`` holds them through ``store.leases.Leases`` (PostgreSQL advisory locks on a
dedicated connection): every ``lease_interval_s`` it keeps what it holds and tries the rest;
a role whose lease it gains starts, one whose lease it loses (its database session ended)
is cancelled at once. So when a process dies, another one takes its roles within about one
interval. Delivery is idempotent end to end (the receiver deduplicates on sender and
message id and answers a repeat with the stored receipt), so a role briefly running twice
— a process cut off from the database before it notices — sends a batch twice at worst,
and nothing reaches an officer twice. On SQLite (one process per home) every role is
this process's and no lease is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.node.logs import get_logger
from gateway.store.leases import Leases

__all__ = ["Roles"]

log = get_logger("roles")
RoleFactory = Callable[[], Coroutine[Any, Any, None]]


class Roles:
    """Starts and stops this process's roles as it gains and loses their leases."""

    def __init__(self, leases: Leases | None, interval_s: float,
                 roles: Callable[[], dict[str, RoleFactory]]) -> None:
        """``leases``: None on SQLite (every role is ours); ``roles``: the current roles by
        name, each with what to run while we hold it (asked again every round, so that a
        peer added by a directory install gets its worker)."""
        self.leases = leases
        self.interval_s = interval_s
        self.roles = roles
        self.tasks: dict[str, asyncio.Task[None]] = {}
        #: When each role was last taken (monotonic seconds), for /health.
        self.since: dict[str, float] = {}

    @property
    def shared(self) -> bool:
        """Whether other processes may run this gateway's roles (PostgreSQL)."""
        return self.leases is not None

    def holds(self, name: str) -> bool:
        return name in self.tasks

    def held(self) -> list[str]:
        return sorted(self.tasks)

    async def step(self) -> None:
        """One round: hold what we can, start what we gained, cancel what we lost."""
        roles = self.roles()
        if self.leases is None:
            held = set(roles)
        else:
            held = await asyncio.to_thread(self.leases.hold, set(roles))
        for name in sorted(set(self.tasks) - held):
            task = self.tasks.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            log.warning("role_lost", role=name)
        for name in sorted(held & set(roles)):
            running = self.tasks.get(name)
            if running is not None and not running.done():
                continue
            self.tasks[name] = asyncio.create_task(roles[name](), name=f"role-{name}")
            self.since[name] = asyncio.get_running_loop().time()
            if self.leases is not None:
                log.info("role_taken", role=name)

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - the keeper must outlive one bad round
                log.error("roles_error", error=type(e).__name__)
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        if self.leases is not None:
            await asyncio.to_thread(self.leases.close)
