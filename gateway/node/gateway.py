"""One running gateway: its office identity, store, peer API, officer API and delivery workers.

``Gateway(config).start()`` sets a private umask and refuses a home, keyring or database
that group or others can read (``gateway.node.home.secure_home``), loads the keyring, the
trust roots and the co-signed directory (refusing to start if our office or our keys are
not in it), checks the store's schema (an empty database is created; an older one is
refused unless ``auto_migrate``, a newer one always: ``blo-gateway migrate``), binds the
two HTTP apps on their own ports, and starts, through ``node.duties``, one delivery worker
per peer office and the checkpointer (on PostgreSQL only in the one process of this gateway
that holds each role's lease; a SQLite home serves one process, ``home.lock_home``), plus a
pinger that measures each peer's reachability and clock skew (and resets delivery backoff
when a peer comes back). After a restore it asks the peers to re-send (``node.redelivery``).

(Just over 400 lines: the composition root builds every piece and owns the start/stop order
and the background loops; each piece's logic lives in its own module behind a port.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import ssl
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aiohttp
import nacl.utils
from aiohttp import web

from gateway.node.alerts import AlertHub
from gateway.node.clock import Clock, SystemClock
from gateway.node.config import Config
from gateway.node.delivery import PeerDelivery
from gateway.node.duties import RoleFactory, Roles
from gateway.node.guard import ConnectionGuard, count_loop_errors
from gateway.node.home import lock_home, secure_home, users_stamp
from gateway.node.http import guard_middleware
from gateway.node.logs import get_logger
from gateway.node.metrics import GatewayMetrics, Scrape
from gateway.node.officer_api import build_officer_app
from gateway.node.peer_api import LIMITS_KEY, build_peer_app
from gateway.node.records import sign_own_record
from gateway.node.redelivery import MARKER as REDELIVER_MARKER
from gateway.node.redelivery import ask_peers
from gateway.node.trust import DirectoryKeeper, load_keyring
from gateway.node.witness import BOOKKEEPING, checkpoint_and_witness
from gateway.protocol import envelope, peerrequest
from gateway.protocol.errors import ConfigError, GatewayError, Malformed, NotFound
from gateway.protocol.identity import Directory, TrustRoots
from gateway.protocol.localtime import office_zone
from gateway.protocol.messages import MessageType, Payload
from gateway.protocol.workflow import deadline_table, transition
from gateway.store import (
    AsyncStore,
    IdempotentAnswer,
    Incoming,
    Store,
    Submission,
    deadline_for,
    make_engine,
    prepare_schema,
)
from gateway.store.leases import Leases

__all__ = ["Gateway"]

log = get_logger("gateway")
PING_EVERY_S = 30.0


class Gateway:
    def __init__(self, config: Config, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.office_id = config.office_id
        self.deliveries: dict[str, PeerDelivery] = {}
        self.peer_info: dict[str, dict[str, Any]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.witness_lock = asyncio.Lock()
        self.courier_lock = asyncio.Lock()  # one bundle at a time (node/courier.py)
        self._case_locks: dict[str, asyncio.Lock] = {}
        self._runners: list[web.AppRunner] = []
        self._servers: list[asyncio.Server] = []
        self._guards: list[ConnectionGuard] = []
        self.peer_port = 0
        self.api_port = 0
        self.trust = DirectoryKeeper(self)
        self.metrics = GatewayMetrics()
        self.alerts = AlertHub()
        self._home_lock: Any = None
        self.roles = Roles(None, config.lease_interval_s, self._roles)

    # ------------------------------------------------------------------ lifecycle

    def load_identity(self) -> None:
        cfg = self.config
        ring = load_keyring(cfg)
        self.roots = TrustRoots.load(cfg.path(cfg.roots))
        self.directory = Directory.verify(cfg.path(cfg.directory).read_bytes(), self.roots,
                                          now_ms=self.clock.now_ms())
        me = self.directory.office(self.office_id)
        #: the office's time zone: periods, deadlines and times shown (stored times are UTC)
        self.zone = office_zone(me, cfg.time_zone)
        listed = {k.key_id for k in me.keys} - set(self.directory.revoked)
        if not {k.key_id for k in ring.keys} & listed:
            raise ConfigError("none of our keys is in the trust directory unrevoked")
        #: signs only with keys the directory lists unrevoked; opens with every key
        self.keyring = ring.usable_in(self.directory)

    async def start(self) -> None:
        secure_home(self.config)  # private umask; refuses a home others can read
        self.load_identity()
        self._home_lock = lock_home(self.config)  # SQLite: one serve per home
        engine = make_engine(self.config.db_url, schema=self.config.database_schema or None)
        try:
            await asyncio.to_thread(prepare_schema, engine, upgrade=self.config.auto_migrate)
        except GatewayError:
            engine.dispose()
            self._unlock_home()
            raise
        if engine.dialect.name == "postgresql":  # other processes may share the schema
            self.roles.leases = Leases(self.config.db_url, self.config.database_schema or None)
        self.deadlines = deadline_table(self.config.deadline_hours)
        self.store = AsyncStore(Store(engine, self.office_id, self.deadlines))
        self.store.observe = self.metrics.observe_store
        try:
            await self.trust.check_at_start()  # no rollback or fork of the directory
        except GatewayError:
            self.store.close()
            self._unlock_home()
            raise
        self.users_changed = users_stamp(self.config)
        await self.store.call(self.store.sync.audit, [{
            "t": self.clock.now_ms(), "type": "gateway.started",
            "serial": self.directory.serial,
            "directory_sha256": hashlib.sha256(self.directory.signed_bytes).hexdigest(),
            "keys": sorted(k.key_id for k in self.keyring.keys)}])
        ssl_client: ssl.SSLContext | bool = True
        cfg = self.config
        if cfg.tls_ca or cfg.tls_client_cert:
            ssl_client = ssl.create_default_context(
                cafile=str(cfg.path(cfg.tls_ca)) if cfg.tls_ca else None)
            if cfg.tls_client_cert:  # mutual TLS: present our client certificate
                ssl_client.load_cert_chain(cfg.path(cfg.tls_client_cert),
                                           cfg.path(cfg.tls_client_key))
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_client,
                                                                         limit_per_host=4))
        for office in self.directory.offices.values():
            url = self.config.peer_urls.get(office.office_id) or office.endpoint
            if office.office_id != self.office_id and url:
                self.add_peer(office.office_id, url)
        server_ssl = None
        if self.config.tls_cert:
            server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ssl.load_cert_chain(self.config.path(self.config.tls_cert),
                                       self.config.path(self.config.tls_key))
        self.accept_errors = count_loop_errors(asyncio.get_running_loop())
        _raise_fd_limit()
        self.peer_guard = self._guard()
        self.peer_app = build_peer_app(self, self.peer_guard)
        self.peer_app.middlewares.insert(0, self.metrics.middleware("peer"))
        self.peer_port = await self._serve(self.peer_app,
                                           self.config.peer_host, self.config.peer_port,
                                           server_ssl, self.peer_guard, auto_decompress=False)
        self.api_guard = self._guard(per_address=False)
        officer_app = build_officer_app(self)
        officer_app.middlewares.insert(0, self.metrics.middleware("officer"))
        self.api_port = await self._serve(officer_app, self.config.api_host,
                                          self.config.api_port, None, self.api_guard)
        await self.roles.step()  # what no other process holds is ours at once
        if (self.config.home / REDELIVER_MARKER).exists():  # restored from a backup
            self._tasks.append(asyncio.create_task(ask_peers(self), name="redeliver"))
        self._tasks.append(asyncio.create_task(self.roles.run(), name="roles"))
        self._tasks.append(asyncio.create_task(self._pinger(), name="pinger"))
        log.info("gateway_started", office=self.office_id, peer_port=self.peer_port,
                 api_port=self.api_port, peers=sorted(self.deliveries),
                 roles=self.roles.held())

    def _guard(self, *, per_address: bool = True) -> ConnectionGuard:
        """Officers may all come through one reverse proxy: no per-address cap there."""
        cfg = self.config
        return ConnectionGuard(max_connections=cfg.max_connections,
                               max_per_address=(cfg.max_connections_per_address if per_address
                                                else cfg.max_connections),
                               head_timeout_s=cfg.head_timeout_s,
                               idle_timeout_s=cfg.idle_timeout_s)

    async def _serve(self, app: web.Application, host: str, port: int,
                     ssl_ctx: ssl.SSLContext | None, guard: ConnectionGuard,
                     **handler_args: Any) -> int:
        """Serve ``app`` through the connection guard (caps, head and idle timeouts).

        aiohttp's own keep-alive is set just above the guard's idle timeout and an
        unread body is never drained (lingering_time=0): the error middleware closes
        such connections instead."""
        app.middlewares.insert(0, guard_middleware(guard))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0,
                               keepalive_timeout=self.config.idle_timeout_s + 5,
                               lingering_time=0, **handler_args)
        await runner.setup()
        server_factory = runner.server
        assert server_factory is not None
        guard.start()
        server = await asyncio.get_running_loop().create_server(
            guard.wrap(server_factory), host, port, ssl=ssl_ctx, backlog=256,
            reuse_address=True)
        self._runners.append(runner)
        self._servers.append(server)
        self._guards.append(guard)
        return int(server.sockets[0].getsockname()[1])

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """A background task that ends with the gateway."""
        self._tasks = [t for t in self._tasks if not t.done()]
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    def add_peer(self, office: str, url: str) -> None:
        """A delivery worker for a peer office (at start, or added by a newly installed
        directory); it runs while this process holds its role (``node.duties``)."""
        d = self.deliveries[office] = PeerDelivery(self, office, url)
        if self.config.db_url.startswith("postgresql"):
            d.idle_poll_s = self.config.lease_interval_s  # others may queue for it

    def _roles(self) -> dict[str, RoleFactory]:
        """The roles that run once per gateway, and what each runs (``node.duties``)."""
        roles: dict[str, RoleFactory] = {
            f"deliver:{p}": d.run for p, d in self.deliveries.items()}
        roles["checkpoint"] = self._checkpointer
        return roles

    def _unlock_home(self) -> None:
        if self._home_lock is not None:
            self._home_lock.close()
            self._home_lock = None

    async def stop(self) -> None:
        for d in self.deliveries.values():
            d.stopped = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.roles.stop()
        self.alerts.close()  # the web app's alert streams end, so the listeners can close
        for srv in self._servers:
            srv.close()
        for g in self._guards:
            await g.stop()
        for r in self._runners:
            await r.cleanup()
        await self.http.close()
        self.store.close()
        self._unlock_home()
        log.info("gateway_stopped", office=self.office_id)

    # ------------------------------------------------------------------ operations

    async def submit(self, payload: Payload, to: Sequence[str], *, user: str,
                     self_copy: bool = False,
                     idempotency: Callable[[bytes], IdempotentAnswer] | None = None) -> bytes:
        """Seal for ``to`` and commit to the outbox; returns the message id.

        A handover record (and with ``self_copy``, any message) is also sealed to our own
        office, so that we can open what we sent; it is delivered only to ``to``. After a
        handover record, our signature over its exact bytes follows automatically.
        ``idempotency`` makes, from the new message id, the answer to an officer request
        with an Idempotency-Key; it is stored in the same transaction as the message."""
        self.trust.require_current()
        if self.office_id in to:
            raise Malformed("a message cannot be addressed to this office itself")
        record = payload.message_type == MessageType.HANDOVER_RECORD
        sealed_to = [*to, self.office_id] if (self_copy or record) else list(to)
        for office in to:
            if office not in self.deliveries:
                if office not in self.directory.offices:
                    raise NotFound(f"office {office} is not in the trust directory")
                raise NotFound(f"no gateway endpoint is known for office {office}")
        mid = nacl.utils.random(16)
        ctx = payload.context
        root = ctx.in_reply_to or mid.hex()
        async with self._case_lock(root):
            current = (await self.store.call(self.store.sync.case_state, ctx.in_reply_to)
                       if ctx.in_reply_to else None)
            step = transition(message_id=mid.hex(), message_type=payload.message_type,
                              step=payload.workflow_step, in_reply_to=ctx.in_reply_to,
                              current=current)
            now = self.clock.now_ms()
            data, h = envelope.seal_with_header(
                payload, sender=self.keyring, recipients=sealed_to, directory=self.directory,
                now_ms=now, ttl_ms=self.config.message_ttl_ms, message_id=mid)
            inc = Incoming(h.message_id, h.sender, h.recipient_offices, int(h.message_type),
                           hashlib.sha256(data).digest(), data, h.created_at_ms,
                           h.expires_at_ms, h.case_reference, h.in_reply_to, int(h.priority),
                           int(h.handling_code), h.deadline_ms, h.workflow_step)
            deadline = h.deadline_ms or deadline_for(inc, now, self.deadlines)
            await self.store.submit(Submission(
                inc, tuple(to), now, user, step, deadline,
                idempotency(h.message_id) if idempotency is not None else None))
        log.info("message_queued", message_id=h.message_id_hex, type=h.message_type.slug,
                 to=list(to), user_id=user)
        for office in to:
            self.deliveries[office].wake.set()
        if record:
            await sign_own_record(self, h.message_id, list(to))
        return h.message_id

    def _case_lock(self, root: str) -> asyncio.Lock:
        """One lock per case item, so two officers cannot race one item's transition."""
        lock = self._case_locks.get(root)
        if lock is None:
            if len(self._case_locks) > 10_000:
                self._case_locks = {k: v for k, v in self._case_locks.items() if v.locked()}
            lock = self._case_locks[root] = asyncio.Lock()
        return lock

    async def peer_seen(self, peer: str, now_ms: int, skew_ms: int) -> None:
        """Authenticated traffic from ``peer``: note it, and retry our queue for it now."""
        info = self.peer_info.setdefault(peer, {})
        info.update(last_seen_ms=now_ms, clock_skew_ms=skew_ms)
        d = self.deliveries.get(peer)
        if d is not None and (d.failures or d.next_attempt_ms > now_ms):
            await self.store.call(self.store.sync.peer_seen, peer, now_ms, skew_ms)
            d.reset_backoff()
            log.info("peer_back", peer=peer)

    async def ping(self, peer: str) -> None:
        d = self.deliveries[peer]
        t0 = self.clock.now_ms()
        path = f"/peer/v1/ping?directory_serial={self.directory.serial}"
        req = peerrequest.sign(self.keyring, self.directory, method="GET", path_qs=path,
                               destination=peer, body=b"", now_ms=t0)
        info = self.peer_info.setdefault(peer, {})
        try:
            async with self.http.get(d.url + path, headers=req.headers,
                                     timeout=aiohttp.ClientTimeout(total=5)) as resp:
                raw = await resp.content.read(64 * 1024)
                t1 = self.clock.now_ms()
                if req.version >= 2 and not peerrequest.answer_verified(
                        req, status=resp.status, headers=resp.headers, body=raw,
                        directory=self.directory, now_ms=t1,
                        max_skew_ms=self.config.max_skew_ms):
                    # Its time and serial could be anyone's: use neither (§11, §15), and
                    # verify before parsing.
                    raise GatewayError(f"HTTP {resp.status}: the ping answer of a suite-2 "
                                       "peer is not signed by it")
                data = json.loads(raw)
                if not isinstance(data, dict):
                    raise TypeError("the ping answer is not a JSON object")
                if resp.status != 200:
                    raise GatewayError(f"{data.get('code')}: {data.get('message')}")
            info.update(reachable=True, last_ping_ms=t1, rtt_ms=t1 - t0,
                        clock_skew_ms=int(data["time_ms"]) - (t0 + t1) // 2, ping_error=None)
            serial = data.get("directory_serial")
            if isinstance(serial, int):
                self.trust.offered(peer, serial)
            if d.failures or d.next_attempt_ms > t1:
                d.reset_backoff()
        except (aiohttp.ClientError, TimeoutError, OSError, GatewayError, ValueError,
                KeyError, TypeError, RecursionError) as e:
            info.update(reachable=False, last_ping_ms=self.clock.now_ms(),
                        ping_error=type(e).__name__ if not isinstance(e, GatewayError)
                        else e.message)

    async def _pinger(self) -> None:
        while True:
            with contextlib.suppress(GatewayError):
                await self.trust.refresh()
            await asyncio.gather(*(self.ping(p) for p in list(self.deliveries)))
            if not self.roles.holds("checkpoint"):  # housekeeping goes with that role
                await asyncio.sleep(PING_EVERY_S)
                continue
            with contextlib.suppress(GatewayError):
                await self.sweep()
            await asyncio.sleep(PING_EVERY_S)

    async def sweep(self) -> None:
        """What keeps the store bounded, run with every round of pings: request nonces
        whose skew window has passed (a replay of such a request is refused for its
        timestamp), Idempotency-Keys older than ``idempotency_key_hours``, and the
        crypto-shredding of what has passed the retention period."""
        await self.store.call(self.store.sync.prune_nonces, self.clock.now_ms())
        await self.store.call(self.store.sync.prune_idempotency_keys, self.clock.now_ms()
                              - int(self.config.idempotency_key_hours * 3_600_000))
        await self.retention_sweep()

    async def retention_sweep(self) -> int:
        """Crypto-shred what has passed the retention period; returns how many."""
        if self.config.retention_days <= 0:
            return 0
        now = self.clock.now_ms()
        n: int = await self.store.call(self.store.sync.shred_expired,
                                       now - int(self.config.retention_days * 86_400_000), now)
        if n:
            log.info("messages_shredded", count=n)
        return n

    async def _checkpointer(self) -> None:
        while True:
            try:
                await checkpoint_and_witness(self)
            except GatewayError as e:
                log.error("checkpoint_failed", code=e.code)
            await asyncio.sleep(self.config.checkpoint_interval_s)

    async def metrics_text(self) -> bytes:
        """``/metrics``: one store snapshot plus what this process holds (node/metrics.py)."""
        now = self.clock.now_ms()
        snapshot = await self.store.call(self.store.sync.metrics_snapshot, now)
        limits = self.peer_app[LIMITS_KEY]
        return self.metrics.exposition(Scrape(
            now_ms=now, snapshot=snapshot, directory_serial=self.directory.serial,
            directory_expires_ms=self.directory.expires_at_ms,
            peers={p: {"reachable": self.peer_info.get(p, {}).get("reachable"),
                       "clock_skew_ms": self.peer_info.get(p, {}).get("clock_skew_ms"),
                       "failures": d.failures} for p, d in self.deliveries.items()},
            guards={"peer": (self.peer_guard.counters, self.peer_guard.open_connections),
                    "officer": (self.api_guard.counters, self.api_guard.open_connections)},
            preauth_failures=limits.per_address_failures.failures_seen,
            preauth_addresses=len(limits.per_address_failures),
            accept_errors=dict(self.accept_errors)))

    async def health(self) -> dict[str, Any]:
        try:
            await self.store.call(self.store.sync.ping)
            store = "ok"
        except GatewayError as e:
            store = e.code
        backlog = await self.store.call(self.store.sync.backlog) if store == "ok" else {}
        peers = {}
        for peer, d in self.deliveries.items():
            info = self.peer_info.get(peer, {})
            peers[peer] = {
                "url": d.url, "reachable": info.get("reachable"),
                "clock_skew_ms": info.get("clock_skew_ms"), "rtt_ms": info.get("rtt_ms"),
                "last_seen_ms": info.get("last_seen_ms"), "failures": d.failures,
                "next_attempt_ms": d.next_attempt_ms or None,
                "backlog": {s: backlog.get(peer, {}).get(s, 0)
                            for s in ("queued", "delivered", "dead")},
            }
        audit: dict[str, Any] = {}
        if store == "ok":
            size, _ = await self.store.call(self.store.sync.audit_head)
            alerts = await self.store.call(self.store.sync.alerts, 5)
            due = await self.store.call(self.store.sync.audit_due_size, BOOKKEEPING)
            audit = {"size": size, "witness_due_to": due, "alerts": [
                {"t": a["t"], "origin": a["origin"], "kind": a["kind"], "detail": a["detail"]}
                for a in alerts]}
            for peer, info in peers.items():
                info["cosigned_our_log_to"] = await self.store.call(
                    self.store.sync.witnessed_size, peer)
        directory = self.trust.health()
        status = ("ok" if store == "ok" and not audit.get("alerts")
                  and directory["state"] != "expired" else "degraded")
        now_mono = asyncio.get_running_loop().time()
        roles = {"shared": self.roles.shared, "held": {
            name: round(now_mono - self.roles.since.get(name, now_mono), 1)
            for name in self.roles.held()}}
        return {"office": self.office_id, "status": status, "store": store, "roles": roles,
                "directory_serial": self.directory.serial, "directory": directory,
                "warnings": [directory["warning"]] if directory["warning"] else [],
                "time_ms": self.clock.now_ms(), "peers": peers, "audit": audit}


def _raise_fd_limit() -> None:
    """Raise the soft descriptor limit to the hard one, so the connection caps bind first."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
