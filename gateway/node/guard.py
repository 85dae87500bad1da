"""Limits that keep a listener standing under hostile traffic, in fixed memory.

* ``ConnectionGuard`` wraps the HTTP server's protocol factory: it caps open
  connections in total and per remote address (at the cap the longest-idle
  connection is closed to make room; if none is idle, the new one is closed at
  once, before any byte is parsed), and closes connections that do not finish a
  request head within ``head_timeout_s`` (slow-loris) or stay idle past
  ``idle_timeout_s``. Refusals are counted, never logged one by one.
* ``AddressLimiter`` is a token bucket per remote address for work done *before* a
  request is authenticated (failures cost a token). Its table is an LRU of at most
  ``max_entries`` addresses, so memory is fixed whatever the input; IPv6 addresses
  are grouped by /64, the unit an attacker usually controls.
* ``TokenBucket`` is the per-peer limiter applied to *authenticated* origins; its
  table is bounded the same way.
* ``count_loop_errors`` replaces the event loop's exception handler for accept
  errors (descriptor exhaustion), which asyncio would otherwise log per attempt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from gateway.node.logs import get_logger
from gateway.protocol.errors import RateLimited

__all__ = ["AddressLimiter", "ConnectionGuard", "TokenBucket", "address_key",
           "count_loop_errors"]

log = get_logger("guard")


def address_key(remote: str | None) -> str:
    """The unit of per-address limits: an IPv4 address, or an IPv6 /64 prefix."""
    if not remote:
        return "?"
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class TokenBucket:
    """Requests per second per key, with a burst; ``take`` raises RateLimited.

    At most ``max_entries`` keys are remembered (least recently used forgotten first);
    a forgotten key starts again with a full bucket, so the table is an upper bound on
    memory, not on fairness."""

    def __init__(self, rate: float, burst: int, max_entries: int = 4096) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_entries = rate, burst, max_entries
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._state)

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._state.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def _put(self, key: str, tokens: float, now: float) -> None:
        self._state[key] = (tokens, now)
        self._state.move_to_end(key)
        while len(self._state) > self.max_entries:
            self._state.popitem(last=False)

    def take(self, key: str) -> None:
        now = time.monotonic()
        tokens = self._tokens(key, now)
        if tokens < 1.0:
            self._put(key, tokens, now)
            raise RateLimited(f"too many requests from {key}; slow down",
                              retry_after=(1.0 - tokens) / self.rate)
        self._put(key, tokens - 1.0, now)

    def exhausted(self, key: str) -> bool:
        """True if ``key`` has no token left (does not take one)."""
        if key not in self._state:
            return False
        return self._tokens(key, time.monotonic()) < 1.0

    def retry_after(self, key: str) -> float:
        return max(0.0, (1.0 - self._tokens(key, time.monotonic())) / self.rate)


class AddressLimiter(TokenBucket):
    """Failures before authentication, per remote address (see the module docstring)."""

    #: failures recorded since start (the metrics endpoint's ``blo_preauth_failures``)
    failures_seen = 0

    def fail(self, remote: str | None) -> None:
        """Record one failure; never raises."""
        self.failures_seen += 1
        key = address_key(remote)
        now = time.monotonic()
        self._put(key, max(0.0, self._tokens(key, now) - 1.0), now)

    def blocked(self, remote: str | None) -> bool:
        return self.exhausted(address_key(remote))


class _Conn:
    __slots__ = ("address", "busy", "head_since", "idle_since", "transport")

    def __init__(self, transport: asyncio.BaseTransport, address: str, now: float) -> None:
        self.transport = transport
        self.address = address
        self.busy = 0
        self.idle_since = now
        self.head_since: float | None = None  # bytes of a head arrived, no handler yet


class _Guarded(asyncio.Protocol):
    """Stands between the transport and the HTTP protocol; admits, watches, forgets."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard, self.inner = guard, inner
        self.conn: _Conn | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.conn = self.guard._admit(transport)
        if self.conn is None:
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            else:
                transport.close()
            return
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            self.guard._forget(conn)
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn is None:
            return
        if conn.busy == 0 and conn.head_since is None:
            conn.head_since = time.monotonic()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.conn is not None else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class ConnectionGuard:
    """Connection caps and head/idle timeouts for one listener (see the module docstring)."""

    def __init__(self, *, max_connections: int, max_per_address: int, head_timeout_s: float,
                 idle_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.head_timeout_s = head_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self._conns: dict[asyncio.BaseTransport, _Conn] = {}
        self._per_address: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` that applies the caps."""
        return lambda: _Guarded(self, factory())

    def _admit(self, transport: asyncio.BaseTransport) -> _Conn | None:
        peer = transport.get_extra_info("peername")
        address = address_key(peer[0] if isinstance(peer, tuple) and peer else None)
        if len(self._conns) >= self.max_connections and not self._evict_idle(None):
            self.counters["refused_total_cap"] += 1
            return None
        if self._per_address[address] >= self.max_per_address and \
                not self._evict_idle(address):
            self.counters["refused_address_cap"] += 1
            return None
        conn = _Conn(transport, address, time.monotonic())
        self._conns[transport] = conn
        self._per_address[address] += 1
        self.counters["accepted"] += 1
        return conn

    def _evict_idle(self, address: str | None) -> bool:
        """Make room by closing the longest-idle connection (of ``address``, if given) that
        is between requests: a connection opened and left silent holds no place that a new
        one needs. Connections in a request, or part-way through a head, are never evicted
        (the head timeout deals with those)."""
        for conn in self._conns.values():  # oldest first
            if conn.busy == 0 and conn.head_since is None and (
                    address is None or conn.address == address):
                self._forget(conn)
                conn.transport.close()
                self.counters["evicted_idle"] += 1
                return True
        return False

    def _forget(self, conn: _Conn) -> None:
        if self._conns.pop(conn.transport, None) is None:
            return
        self._per_address[conn.address] -= 1
        if self._per_address[conn.address] <= 0:
            del self._per_address[conn.address]

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            conn.busy += 1
            conn.head_since = None

    def request_finished(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            conn.busy = max(0, conn.busy - 1)
            conn.idle_since = time.monotonic()
            conn.head_since = None

    def sweep(self) -> None:
        """Close connections past their head or idle timeout."""
        now = time.monotonic()
        for conn in list(self._conns.values()):
            if conn.busy:
                continue
            if conn.head_since is not None and now - conn.head_since > self.head_timeout_s:
                self.counters["closed_slow_head"] += 1
                conn.transport.close()
            elif conn.head_since is None and now - conn.idle_since > self.idle_timeout_s:
                self.counters["closed_idle"] += 1
                conn.transport.close()

    async def _sweep_forever(self) -> None:
        interval = max(0.1, min(self.head_timeout_s, self.idle_timeout_s) / 4)
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="connection-guard")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None


_loop_errors: Counter[str] = Counter()
_last_report = [0.0]


def count_loop_errors(loop: asyncio.AbstractEventLoop) -> Counter[str]:
    """Count accept errors (e.g. EMFILE) instead of logging each; one summary line a minute."""
    previous = loop.get_exception_handler()

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "accept" in message:
            exc = context.get("exception")
            _loop_errors[type(exc).__name__ if exc else "accept"] += 1
            now = time.monotonic()
            if now - _last_report[0] > 60:
                _last_report[0] = now
                log.warning("accept_errors", counts=dict(_loop_errors))
            return
        if previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return _loop_errors
