"""The fault suite: real gateway processes under load while faults hit them.

    python tools/chaos.py --messages 2000 --kills 10 [--seconds 5] \
        [--faults kill,stop,slow,down,twin] [--pg postgresql://postgres@127.0.0.1:5432/test]

Each fault runs on fresh gateways (``blo-gateway serve`` processes, homes under a temporary
folder) while an officer sends ``--messages`` messages through the officer API, each under
its own Idempotency-Key and retried under that key (gateway/cli/client.py) when the
connection breaks or the gateway answers 503:

  kill   SIGKILL of the sender or the receiver at random, ``--kills`` times, restarted
  stop   SIGSTOP of the receiver for ``--seconds`` s, then SIGCONT (hung, not down)
  slow   the sender reaches the receiver through a TCP proxy delaying each chunk
  down   three gateways: the Border Guard post is down while Hekou keeps receiving;
         the post comes back and catches up
  twin   (PostgreSQL) the Lào Cai gateway as two processes on one schema behind a TCP
         proxy (Hekou reaches either); the officer sends through both processes in turn,
         Hekou sends to Lào Cai (both processes receive), and the process running delivery
         to Hekou is killed with SIGKILL, restarted, then the other one: the take-over time
         (kill to the first delivery the surviving process records) is measured each time

After each fault: 0 lost and 0 duplicated (the receivers' inboxes hold each accepted
message id exactly once, and each idempotency key gave one message id), every accepted
message delivered with a verified receipt, both audit logs exported
(gateway.node.bundle.export_bundle) and verified offline with the pinned roots
(gateway.audit.verify.verify_bundles), the canary (an invented string in every payload) in
no file of the homes, and the time to recover (end of the fault, or of the sends on the
slow link, to the last receipt).
Prints one table; exit status 0 when every row passed. tests/test_chaos.py runs short cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gateway.audit.verify import verify_bundles
from gateway.cli.client import OfficerClient
from gateway.cli.demo import GatewayProcess, free_port
from gateway.cli.provision import Network, provision
from gateway.node.bundle import export_bundle
from gateway.node.config import load_config
from gateway.node.home import add_user, init_home
from gateway.protocol.errors import GatewayError
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

FAULTS = ("kill", "stop", "slow", "down", "twin")
T = TypeVar("T")
#: The second process of the Lào Cai gateway in the twin fault (same schema, own home).
TWIN = f"{LAOCAI}#2"
#: Retries of a keyed send: enough to outlast a restart on a loaded machine.
SEND_ATTEMPTS = 14


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` (errors count as "not yet") until true; seconds taken."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (GatewayError, OSError):
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def poll(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    """``fn()`` once it is not None (errors count as None), polled like ``wait_until``."""
    out: list[T | None] = [None]

    def check() -> bool:
        out[0] = fn()
        return out[0] is not None

    wait_until(check, timeout, what)
    assert out[0] is not None
    return out[0]


class DelayProxy:
    """A TCP proxy on loopback that holds each chunk ``delay_s`` before passing it on
    (both directions), in its own thread and event loop. With several target ports it
    spreads connections over them in turn and skips one that refuses (a load balancer in
    front of the processes of one gateway)."""

    def __init__(self, target_port: int | list[int], delay_s: float = 0.0) -> None:
        self.targets = target_port if isinstance(target_port, list) else [target_port]
        self.delay_s = delay_s
        self._next = 0
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while chunk := await r.read(65536):
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                w.write(chunk)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                w.close()

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self._next += 1
        for i in range(len(self.targets)):
            port = self.targets[(self._next + i) % len(self.targets)]
            try:
                ur, uw = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            w.close()
            return
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass
class Result:
    fault: str
    sent: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    receipted: int = 0
    logs_ok: bool = False
    canary_found: list[str] = field(default_factory=list)
    recover_s: float = 0.0
    #: twin: seconds from each kill to the first delivery the other process recorded
    takeover_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (not self.lost and not self.duplicated and self.receipted == self.sent
                and self.logs_ok and not self.canary_found and not self.problems)


class Cluster:
    """Two or three gateways as processes, homes under ``root``. With ``twin`` (PostgreSQL)
    the Lào Cai gateway is two processes (``LAOCAI`` and ``TWIN``) on one schema, each with
    its own home, behind a proxy that is Lào Cai's endpoint in the directory."""

    def __init__(self, root: Path, offices: tuple[str, ...], pg_dsn: str = "",
                 peer_urls: dict[str, dict[str, str]] | None = None,
                 ports: dict[str, tuple[int, int]] | None = None, twin: bool = False) -> None:
        self.root, self.offices, self.pg_dsn = root, offices, pg_dsn
        self.ports = ports or {o: (free_port(), free_port()) for o in offices}
        endpoints = {o: f"http://127.0.0.1:{p[0]}" for o, p in self.ports.items()}
        self.proxy: DelayProxy | None = None
        if twin:
            if not pg_dsn:
                raise ValueError("two processes of one gateway need PostgreSQL (--pg)")
            self.ports[TWIN] = (free_port(), free_port())
            self.proxy = DelayProxy([self.ports[LAOCAI][0], self.ports[TWIN][0]]).start()
            endpoints[LAOCAI] = f"http://127.0.0.1:{self.proxy.port}"
        self.net: Network = provision(int(time.time() * 1000), endpoints=endpoints)
        self.schemas: list[str] = []
        self.procs: dict[str, GatewayProcess] = {}
        self.clients: dict[str, OfficerClient] = {}
        for office in (*offices, *((TWIN,) if twin else ())):
            if office == TWIN:  # Lào Cai's keys and schema; its officer's token
                lc = load_config(root / LAOCAI)
                home = root / "laocai-2"
                init_home(home, auto_migrate=True, keyring=self.net.keyrings[LAOCAI],
                          directory=self.net.directory_bytes, roots=self.net.roots,
                          peer_port=self.ports[TWIN][0], api_port=self.ports[TWIN][1],
                          database_url=lc.database_url, database_schema=lc.database_schema,
                          retry_base_ms=lc.retry_base_ms, retry_cap_ms=lc.retry_cap_ms,
                          checkpoint_interval_s=lc.checkpoint_interval_s,
                          lease_interval_s=lc.lease_interval_s)
                token = root / LAOCAI / "private" / "tokens" / "officer.token"
                (home / "private" / "tokens").mkdir(mode=0o700)
                shutil.copy(token, home / "private" / "tokens" / "officer.token")
                self._process(office, home)
                continue
            home = root / office
            extra: dict[str, Any] = {"retry_base_ms": 100, "retry_cap_ms": 1000,
                                     "checkpoint_interval_s": 0.5}
            if pg_dsn:
                schema = f"chaos_{secrets.token_hex(6)}"
                self.schemas.append(schema)
                extra.update(database_url=pg_dsn, database_schema=schema)
            if peer_urls and office in peer_urls:
                extra["peer_urls"] = peer_urls[office]
            init_home(home, auto_migrate=True, keyring=self.net.keyrings[office],
                      directory=self.net.directory_bytes, roots=self.net.roots,
                      peer_port=self.ports[office][0], api_port=self.ports[office][1], **extra)
            add_user(home, "officer", "officer")
            self._process(office, home)

    def _process(self, name: str, home: Path) -> None:
        self.procs[name] = GatewayProcess(home)
        client = OfficerClient.for_home(home, "officer")
        client.attempts = SEND_ATTEMPTS
        self.clients[name] = client

    def start(self, office: str) -> None:
        self.procs[office].start()
        self.procs[office].wait_healthy(self.clients[office], timeout=60)

    def restart(self, office: str) -> None:
        self.procs[office].stop(signal.SIGKILL)
        self.start(office)

    def close(self) -> None:
        for p in self.procs.values():
            if p.proc is not None and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGCONT)
            p.stop(signal.SIGKILL)
        if self.schemas:
            import sqlalchemy as sa

            engine = sa.create_engine("postgresql+psycopg://" + self.pg_dsn.split("://", 1)[1])
            with engine.begin() as c:
                for s in self.schemas:
                    c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
            engine.dispose()
        if self.proxy is not None:
            self.proxy.stop()


def canary_payload(canary: str) -> dict[str, Any]:
    """A valid Lào Cai -> Hekou payload whose person's name carries ``canary``."""
    payload = case_payloads()[5].payload.to_dict()
    payload["body"]["persons"][0]["person"]["name"]["full_name"] = f"Giàng Thị {canary}"
    payload["body"]["persons"][0]["person"]["name"].pop("hanzi", None)
    payload["body"]["persons"][0]["person"]["name"].pop("latin", None)
    return payload


class Sender:
    """Keyed sends in a thread; remembers key -> message id. With several clients (the
    processes of one gateway) the sends go to each in turn, and a send that fails is
    retried under the same key on the next process (the key is in the shared database)."""

    def __init__(self, client: OfficerClient | list[OfficerClient], to: list[str],
                 payload: dict[str, Any], count: int,
                 pace: Callable[[int], bool] | None = None) -> None:
        """``pace(n)``: the n-th send waits until it is true (spreads sends over a run)."""
        self.clients = client if isinstance(client, list) else [client]
        self.to, self.payload, self.count, self.pace = to, payload, count, pace
        if len(self.clients) > 1:
            for c in self.clients:
                c.attempts = 2  # fail over soon rather than wait for a restart
        self.by_key: dict[str, str] = {}
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _send(self, n: int, key: str) -> str:
        for attempt in range(SEND_ATTEMPTS):
            client = self.clients[(n + attempt) % len(self.clients)]
            try:
                return str(client.send(self.to, self.payload, idempotency_key=key)["message_id"])
            except GatewayError:
                if len(self.clients) == 1 or attempt == SEND_ATTEMPTS - 1:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def _run(self) -> None:
        for n in range(self.count):
            while self.pace is not None and not self.pace(n):
                time.sleep(0.05)
            key = secrets.token_urlsafe(16)
            try:
                self.by_key[key] = self._send(n, key)
                # The same key once more (on the other process, if there are two): must
                # answer the same message, never a second one.
                if len(self.by_key) % 25 == 0 and self._send(n + 1, key) != self.by_key[key]:
                    self.errors.append(f"key {key} gave two message ids")
            except GatewayError as e:
                self.errors.append(f"send failed: {e}")
                return

    def done(self) -> int:
        return len(self.by_key)

    def reached(self, goal: int) -> bool:
        """``goal`` messages accepted (or the sender gave up)."""
        return self.done() >= goal or not self.thread.is_alive()


def _delivered_all(client: OfficerClient, mids: list[str], pending: set[str]) -> bool:
    for m in list(pending):
        deliveries = client.status(m)["deliveries"]
        if all(d["state"] == "delivered" and d.get("receipt") for d in deliveries):
            pending.discard(m)
        else:
            return False
    return not pending


def check(cluster: Cluster, sender: Sender, receivers: list[str], canary: str,
          result: Result, fault_end: float, timeout: float) -> Result:
    """Wait for every receipt, then count, verify the logs and scan for the canary."""
    lc = cluster.clients[LAOCAI]
    mids = list(sender.by_key.values())
    result.problems.extend(sender.errors)
    result.sent = len(mids)
    pending = set(mids)
    try:
        wait_until(lambda: _delivered_all(lc, mids, pending), timeout, "every receipt")
    except TimeoutError as e:
        result.problems.append(str(e))
    result.recover_s = max(0.0, time.monotonic() - fault_end)
    result.receipted = len(mids) - len(pending)
    if len(set(mids)) != len(mids):
        result.duplicated += len(mids) - len(set(mids))
    for office in receivers:
        inbox = inbox_ids(cluster.procs[office].home)
        result.received += len(inbox)
        result.duplicated += len(inbox) - len(set(inbox))
        result.duplicated += len(set(inbox) - set(mids))
        result.lost += len(set(mids) - set(inbox))
    # Audit logs: both sides cosign each other's log, then export and verify offline.
    bundles = []
    try:
        for office in cluster.offices:
            for other in receivers if office == LAOCAI else [LAOCAI]:
                wait_until(functools.partial(_cosigned, cluster, office, other), timeout,
                           f"{other} cosigning the log of {office}")
        for office in (LAOCAI, receivers[0]):
            out = cluster.root / f"audit-{office}.tar"
            export_bundle(cluster.procs[office].home, out)
            bundles.append(out)
        report = verify_bundles(bundles, cluster.net.roots)
        result.logs_ok = report.ok
        if not report.ok:
            result.problems.append(f"audit: {report.problems[0]}")
    except (TimeoutError, GatewayError) as e:
        result.problems.append(str(e))
    result.canary_found.extend(canary_places(
        sorted({proc.home for proc in cluster.procs.values()}), canary, cluster.root))
    return result


def canary_places(homes: list[Path], canary: str, root: Path) -> list[str]:
    """Where ``canary`` lies in clear: every file under the gateway ``homes`` (SQLite
    database and its journal, logs, keys, tokens) holding its bytes, and for a gateway whose
    store is PostgreSQL every table of its schema with a row holding it (as text, or as the
    hex of a bytea column). Paths relative to ``root``; [] when clean."""
    import sqlalchemy as sa

    from gateway.node.config import load_config
    from gateway.store import make_engine

    needle = canary.encode("utf-8")
    found = []
    for home in homes:
        for p in home.rglob("*"):
            if p.is_file() and needle in p.read_bytes():
                found.append(str(p.relative_to(root)))
        if not (home / "gateway.toml").exists():
            continue  # a folder of files, not a gateway's home
        cfg = load_config(home)
        if not cfg.database_schema:
            continue
        engine = make_engine(cfg.db_url, schema=cfg.database_schema)
        try:
            with engine.connect() as c:
                names = c.execute(sa.text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                    {"s": cfg.database_schema}).scalars().all()
                for name in names:  # names from the catalogue, schema checked by make_engine
                    rows = c.execute(sa.text(
                        f'SELECT t::text FROM "{cfg.database_schema}"."{name}" t'  # noqa: S608
                    )).scalars()
                    if any(canary in r or needle.hex() in r for r in rows):
                        found.append(f"{home.relative_to(root)}: table {name}")
        finally:
            engine.dispose()
    return found


def inbox_ids(home: Path) -> list[str]:
    """Every message id the inbox of the gateway in ``home`` holds, one per inbox row (read
    from its database: the officer API lists at most 1000)."""
    import sqlalchemy as sa

    from gateway.node.config import load_config
    from gateway.store import make_engine
    from gateway.store.tables import envelopes, inbox

    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        with engine.connect() as c:
            rows = c.execute(sa.select(envelopes.c.message_id)
                             .join(inbox, inbox.c.envelope_id == envelopes.c.id))
            return [bytes(r[0]).hex() for r in rows]
    finally:
        engine.dispose()


def _first_delivery_after(home: Path, peer: str, after_ms: int) -> int | None:
    """When the gateway in ``home`` first recorded a delivery to ``peer`` after
    ``after_ms`` (its outbox, in its database), or None."""
    import sqlalchemy as sa

    from gateway.store import make_engine
    from gateway.store.tables import outbox

    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        with engine.connect() as c:
            v = c.execute(sa.select(sa.func.min(outbox.c.delivered_at_ms)).where(
                outbox.c.peer == peer, outbox.c.delivered_at_ms > after_ms)).scalar()
            return None if v is None else int(v)
    finally:
        engine.dispose()


def _delivery_holder(cluster: Cluster) -> str | None:
    """Which Lào Cai process runs delivery to Hekou now (its /health), or None."""
    for name in (LAOCAI, TWIN):
        with contextlib.suppress(GatewayError, KeyError):
            if f"deliver:{HEKOU}" in cluster.clients[name].health()["roles"]["held"]:
                return name
    return None


def run_twin(root: Path, messages: int, kills: int, pg_dsn: str, timeout: float) -> Result:
    """The twin fault (module docstring): two Lào Cai processes on one PostgreSQL schema."""
    canary = f"CANARY{secrets.token_hex(8).upper()}"
    result = Result("twin")
    cluster = Cluster(root, (LAOCAI, HEKOU), pg_dsn, twin=True)
    try:
        for name in (LAOCAI, HEKOU, TWIN):
            cluster.start(name)
        sender = Sender([cluster.clients[LAOCAI], cluster.clients[TWIN]], [HEKOU],
                        canary_payload(canary), messages)
        # one for every five sent the other way, over the whole run: the kills move
        # Hekou's connections from one Lào Cai process to the other
        back = Sender(cluster.clients[HEKOU], [LAOCAI], case_payloads()[1].payload.to_dict(),
                      max(1, messages // 5),
                      pace=lambda n: sender.done() >= 5 * n or not sender.thread.is_alive())
        sender.thread.start()
        back.thread.start()
        for i in range(kills):
            wait_until(functools.partial(sender.reached, (i + 1) * messages // (kills + 1)),
                       timeout, "sends before a kill")
            holder: str = poll(lambda: _delivery_holder(cluster), timeout,
                               "a process running delivery")
            cluster.procs[holder].stop(signal.SIGKILL)  # returns once it is gone
            killed_ms = int(time.time() * 1000)
            first: int = poll(functools.partial(_first_delivery_after,
                                                cluster.procs[LAOCAI].home, HEKOU, killed_ms),
                              timeout, "the other process delivering")
            result.takeover_s.append((first - killed_ms) / 1000)
            cluster.start(holder)
        sender.thread.join(timeout)
        back.thread.join(timeout)
        check(cluster, sender, [HEKOU], canary, result, time.monotonic(), timeout)
        # Hekou -> Lào Cai, received by both processes: each message once in the inbox.
        result.problems.extend(back.errors)
        mids = list(back.by_key.values())
        pending = set(mids)
        try:
            wait_until(lambda: _delivered_all(cluster.clients[HEKOU], mids, pending), timeout,
                       "every receipt from Lào Cai")
        except TimeoutError as e:
            result.problems.append(str(e))
        inbox = inbox_ids(cluster.procs[LAOCAI].home)
        result.duplicated += len(inbox) - len(set(inbox)) + len(set(inbox) - set(mids))
        result.lost += len(set(mids) - set(inbox))
    except (TimeoutError, GatewayError, AssertionError) as e:
        result.problems.append(f"{type(e).__name__}: {e}")
    finally:
        cluster.close()
    return result


def _cosigned(cluster: Cluster, office: str, other: str) -> bool:
    h = cluster.clients[office].health()
    to = int(h["peers"][other]["cosigned_our_log_to"])
    return to > 0 and to >= int(h["audit"]["size"]) - 2


def run_fault(fault: str, root: Path, messages: int, kills: int = 2, seconds: float = 3.0,
              delay_s: float = 0.2, pg_dsn: str = "", timeout: float = 240.0,
              seed: int | None = None, kill_only: str | None = None) -> Result:
    """One fault on fresh gateways under ``root``; the Result of the checks.
    ``kill_only``: the office the kill fault hits (random between the two if None)."""
    if fault == "twin":
        return run_twin(root, messages, kills, pg_dsn, timeout)
    rng = random.Random(seed)  # noqa: S311 - chaos, not crypto
    canary = f"CANARY{secrets.token_hex(8).upper()}"
    payload = canary_payload(canary)
    result = Result(fault)
    offices: tuple[str, ...] = (LAOCAI, HEKOU)
    peer_urls = None
    proxy = None
    ports = None
    if fault == "down":
        offices = (LAOCAI, HEKOU, LAOCAI_BORDER_GUARD)
    if fault == "slow":
        ports = {o: (free_port(), free_port()) for o in offices}
        proxy = DelayProxy(ports[HEKOU][0], delay_s).start()
        peer_urls = {LAOCAI: {HEKOU: f"http://127.0.0.1:{proxy.port}"}}
    cluster = Cluster(root, offices, pg_dsn, peer_urls=peer_urls, ports=ports)
    receivers = [HEKOU, LAOCAI_BORDER_GUARD] if fault == "down" else [HEKOU]
    try:
        for office in offices:
            if not (fault == "down" and office == LAOCAI_BORDER_GUARD):
                cluster.start(office)
        sender = Sender(cluster.clients[LAOCAI], receivers, payload, messages)
        sender.thread.start()
        fault_end = time.monotonic()
        if fault == "kill":
            for i in range(kills):
                target = kill_only or rng.choice([LAOCAI, HEKOU])
                goal = (i + 1) * messages // (kills + 1)
                wait_until(functools.partial(sender.reached, goal), timeout,
                           "sends before a kill")
                cluster.restart(target)
            fault_end = time.monotonic()
        elif fault == "stop":
            wait_until(functools.partial(sender.reached, messages // 4), timeout,
                       "sends before the stop")
            proc = cluster.procs[HEKOU].proc
            assert proc is not None
            proc.send_signal(signal.SIGSTOP)
            time.sleep(seconds)
            proc.send_signal(signal.SIGCONT)
            fault_end = time.monotonic()
        elif fault == "down":
            # Hekou keeps receiving while the post is down: all of it before the post is up.
            sender.thread.join(timeout)
            mids = list(sender.by_key.values())
            pending = set(mids)

            def hekou_has_all() -> bool:
                pending.difference_update(inbox_ids(cluster.procs[HEKOU].home))
                return not pending

            wait_until(hekou_has_all, timeout, "Hekou receiving while the post is down")
            cluster.start(LAOCAI_BORDER_GUARD)
            fault_end = time.monotonic()
        sender.thread.join(timeout)
        if fault == "slow":
            fault_end = time.monotonic()  # the link stays slow: from the last send
        return check(cluster, sender, receivers, canary, result, fault_end, timeout)
    except (TimeoutError, GatewayError, AssertionError) as e:
        result.problems.append(f"{type(e).__name__}: {e}")
        return result
    finally:
        cluster.close()
        if proxy is not None:
            proxy.stop()


def table(results: list[Result]) -> str:
    head = ("fault", "sent", "received", "lost", "dup", "receipted", "logs", "canary",
            "recover_s", "takeover_s", "result")
    rows = [head] + [(r.fault, str(r.sent), str(r.received), str(r.lost), str(r.duplicated),
                      str(r.receipted), "verified" if r.logs_ok else "FAILED",
                      "clean" if not r.canary_found else f"FOUND {len(r.canary_found)}",
                      f"{r.recover_s:.1f}",
                      ",".join(f"{t:.2f}" for t in r.takeover_s) or "-",
                      "ok" if r.ok else "FAIL") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    for r in results:
        lines += [f"{r.fault}: {p}" for p in r.problems[:3]]
        lines += [f"{r.fault}: canary in {f}" for f in r.canary_found[:3]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=200, help="messages per fault")
    ap.add_argument("--kills", type=int, default=4, help="SIGKILLs in the kill fault")
    ap.add_argument("--seconds", type=float, default=5.0, help="how long SIGSTOP lasts")
    ap.add_argument("--delay", type=float, default=0.2, help="slow link: seconds per chunk")
    ap.add_argument("--faults", default=",".join(FAULTS[:-1]),
                    help=f"comma-separated, of {', '.join(FAULTS)} (twin needs --pg; "
                    "default: all but twin)")
    ap.add_argument("--pg", default="", metavar="DSN",
                    help="run the gateways on PostgreSQL (a fresh schema each)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds to wait per step")
    a = ap.parse_args(argv)
    faults = [f.strip() for f in a.faults.split(",") if f.strip()]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown faults: {', '.join(sorted(unknown))}")
    if "twin" in faults and not a.pg:
        ap.error("the twin fault runs two processes on one PostgreSQL schema: give --pg")
    results = []
    with tempfile.TemporaryDirectory(prefix="blo-chaos-") as tmp:
        for fault in faults:
            results.append(run_fault(fault, Path(tmp) / fault, a.messages, kills=a.kills,
                                     seconds=a.seconds, delay_s=a.delay, pg_dsn=a.pg,
                                     timeout=a.timeout))
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
