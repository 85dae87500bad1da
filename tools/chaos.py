"""The fault suite: real gateway processes under load while faults hit them.

    python tools/chaos.py --messages 600 --kill-messages 5500 --kills 100 --restarts 3 \
        [--seconds 5] [--faults kill,stop,...] [--pg postgresql://postgres@127.0.0.1:5432/test]
    python tools/chaos.py --faults twin --messages 5000 --kills 2 --pg DSN

Each fault runs on fresh gateways (``blo-gateway serve`` processes, homes under a temporary
folder) while an officer sends ``--messages`` messages through the officer API, each under
its own Idempotency-Key and retried under that key (gateway/cli/client.py) when the
connection breaks or the gateway answers 503 (a 507 is retried by the sender after its
Retry-After; any other answer, a 500 included, fails the run):

  kill       SIGKILL of the sender or the receiver at random, ``--kills`` times, restarted
  stop       SIGSTOP of the receiver for ``--seconds`` s, then SIGCONT (hung, not down)
  slow       the sender reaches the receiver through a TCP proxy delaying each chunk
  down       three gateways: the Border Guard post is down while Hekou keeps receiving;
             the post comes back and catches up
  twin       (PostgreSQL, ``--pg``; not in the default list) the Lào Cai gateway as two
             processes on one schema behind a TCP proxy (Hekou reaches either); the officer
             sends through both processes in turn, Hekou sends to Lào Cai (both processes
             receive), and the process running delivery to Hekou is killed with SIGKILL,
             restarted, then the other one: the take-over time (kill to the first delivery
             the surviving process records) is measured each time
  pgrestart  both gateways on a private throwaway PostgreSQL cluster (initdb/pg_ctl as the
             postgres user, a free port, a temporary folder; never the shared server),
             stopped for ``--seconds`` s ``--restarts`` times under load; /health must
             name the store (STORAGE_UNAVAILABLE) meanwhile
  pgkill     pg_terminate_backend of the gateways' own sessions (``blo-gateway <schema>``
             in pg_stat_activity) every 0.2 s under load (``--pg``, else a private cluster)
  disk       Lào Cai's SQLite home on a small tmpfs (else RLIMIT_FSIZE on its process),
             filled under load until it answers 507 STORAGE_FULL, then freed
  clock      Lào Cai restarted with its clock ``--clock-offset`` s ahead (libfaketime;
             max_skew_ms 2 s): Hekou refuses its requests (EXPIRED), the messages stay
             queued; restarted on time, everything is delivered
  slowpeer   three gateways, the Border Guard post behind a link delaying each chunk
             ``--slow-peer-delay`` s: Hekou's deliveries must not be held back (per-peer
             rate and latency reported)

After each fault: 0 lost and 0 duplicated, by message id (each receiver's inbox holds each
accepted message id exactly once) and by idempotency key (no message no key answered with;
every 25th key sent again answers the same id), every accepted message delivered with a
verified receipt, both audit logs exported (gateway.node.bundle.export_bundle) and verified
offline with the pinned roots (gateway.audit.verify.verify_bundles), the canary (an
invented string in every payload) in no file of the homes, and the time to recover (end of
the fault, or of the sends on a slow link, to the last receipt).
Prints one table; exit status 0 when every row passed. A fault this machine cannot run
(no PostgreSQL binaries, not root, no libfaketime) is a failed row saying why.
tests/test_chaos.py runs short cases; docs/faults.md has the figures of the long run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import os
import pwd
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from gateway.audit.verify import verify_bundles
from gateway.cli.client import OfficerClient
from gateway.cli.demo import GatewayProcess, free_port
from gateway.cli.provision import Network, provision
from gateway.node.bundle import export_bundle
from gateway.node.config import load_config
from gateway.node.home import add_user, init_home
from gateway.protocol.errors import GatewayError, RemoteError
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

FAULTS = ("kill", "stop", "slow", "down", "twin", "pgrestart", "pgkill", "disk", "clock",
          "slowpeer")
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
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

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
        with contextlib.suppress(asyncio.CancelledError):  # stopped: end quietly
            await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@dataclass
class Result:
    fault: str
    injected: int = 0  # faults injected: kills, stops, restarts, terminated sessions, ...
    sent: int = 0
    received: int = 0
    lost: int = 0
    dup_id: int = 0  # a message id twice in an inbox (or for two keys)
    dup_key: int = 0  # one idempotency key that made a second message
    receipted: int = 0
    logs_ok: bool = False
    canary_found: list[str] = field(default_factory=list)
    recover_s: float = 0.0
    #: twin: seconds from each kill to the first delivery the other process recorded
    takeover_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def duplicated(self) -> int:
        return self.dup_id + self.dup_key

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
                 ports: dict[str, tuple[int, int]] | None = None, twin: bool = False,
                 settings: dict[str, Any] | None = None) -> None:
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
        #: office -> its PostgreSQL schema (the twin shares Lào Cai's)
        self.schemas: dict[str, str] = {}
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
                                     "checkpoint_interval_s": 0.5, **(settings or {})}
            if pg_dsn:
                schema = f"chaos_{secrets.token_hex(6)}"
                self.schemas[office] = schema
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

    def start(self, office: str, env: dict[str, str] | None = None) -> None:
        self.procs[office].start(env)
        self.procs[office].wait_healthy(self.clients[office], timeout=60)

    def restart(self, office: str, env: dict[str, str] | None = None,
                sig: int = signal.SIGKILL) -> None:
        self.procs[office].stop(sig)
        self.start(office, env)

    def close(self) -> None:
        for p in self.procs.values():
            if p.proc is not None and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGCONT)
            p.stop(signal.SIGKILL)
        if self.schemas:
            engine = pg_engine(self.pg_dsn)
            with engine.begin() as c:
                for s in self.schemas.values():
                    c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
            engine.dispose()
        if self.proxy is not None:
            self.proxy.stop()


def pg_engine(dsn: str) -> sa.Engine:
    """An engine of our own (no pool) on the PostgreSQL at ``dsn``."""
    return sa.create_engine("postgresql+psycopg://" + dsn.split("://", 1)[1],
                            poolclass=sa.pool.NullPool)


# --- the facilities some faults need: found on this machine, or why not -------------------

def pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian layout), if any."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")]
    found.sort(key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return found[-1] if found else None


def faketime_lib() -> Path | None:
    """Debian's libfaketime (``apt-get install faketime``), if installed."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    return found[0] if found else None


def can_mount() -> bool:
    """Whether we may mount a small tmpfs here (root with CAP_SYS_ADMIN)."""
    with tempfile.TemporaryDirectory(prefix="blo-chaos-mnt-") as d:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                          capture_output=True, check=False).returncode != 0:
            return False
        subprocess.run(["umount", d], capture_output=True, check=False)
        return True


def missing(fault: str, pg_dsn: str = "") -> str:
    """Why this machine cannot run ``fault`` ("" when it can)."""
    if fault == "pgrestart" or (fault == "pgkill" and not pg_dsn):
        if pg_bin() is None:
            return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
        if os.geteuid() != 0 or shutil.which("runuser") is None:
            return "a private PostgreSQL cluster needs root and runuser (initdb as postgres)"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres user to run a private PostgreSQL cluster"
    if fault == "clock" and faketime_lib() is None:
        return "libfaketime is not installed (apt-get install faketime)"
    if fault == "disk" and not can_mount() and not hasattr(resource, "prlimit"):
        return "cannot mount a small filesystem nor limit a process's file size here"
    return ""


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port in a temporary folder, run as the
    ``postgres`` user (initdb and pg_ctl through runuser; we are root). Only this cluster is
    ever stopped or restarted: never the shared server."""

    def __init__(self) -> None:
        bin_dir = pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="blo-chaos-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                 "--no-sync", "--no-instructions")
        self.start()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
                       capture_output=True, check=True, timeout=180, cwd=self.dir)

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                 "-t", "120", "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 "
                 f"-k {self.dir} -c fsync=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class SmallDisk:
    """A small filesystem for one home: a size-limited tmpfs mounted on it where the
    machine allows, else a file-size limit (RLIMIT_FSIZE, set with prlimit) on the gateway
    process while "full". ``fill`` makes it full, ``free`` gives the space back."""

    def __init__(self, home: Path, size_mb: int, mount: bool = True) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True)
        self.mounted = mount and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs",
             str(home)], capture_output=True, check=False).returncode == 0
        self.filler = home / "filler.bin"
        self.pid = 0

    @property
    def how(self) -> str:
        return "tmpfs" if self.mounted else "RLIMIT_FSIZE"

    def fill(self, pid: int) -> None:
        if not self.mounted:
            self.pid = pid
            # No file of the process may grow past its current size: every write that needs
            # more space fails (EFBIG; Python ignores SIGXFSZ), as on a full disk.
            biggest = max(p.stat().st_size for p in self.home.rglob("*") if p.is_file())
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (biggest, resource.RLIM_INFINITY))
            return
        with self.filler.open("wb", buffering=0) as f:
            for chunk in (1 << 20, 1 << 12, 1 << 9):
                with contextlib.suppress(OSError):
                    while f.write(b"\0" * chunk):
                        pass

    def free(self) -> None:
        if not self.mounted:
            with contextlib.suppress(ProcessLookupError):
                resource.prlimit(self.pid, resource.RLIMIT_FSIZE,
                                 (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            return
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.home)],
                           capture_output=True, check=False)


def canary_payload(canary: str) -> dict[str, Any]:
    """A valid Lào Cai -> Hekou payload whose person's name carries ``canary``."""
    payload = case_payloads()[5].payload.to_dict()
    payload["body"]["persons"][0]["person"]["name"]["full_name"] = f"Giàng Thị {canary}"
    payload["body"]["persons"][0]["person"]["name"].pop("hanzi", None)
    payload["body"]["persons"][0]["person"]["name"].pop("latin", None)
    return payload


class Sender:
    """Keyed sends in a thread; remembers key -> message id. Every 25th key is sent again
    (it must answer the same message id). With several clients (the processes of one
    gateway) the sends go to each in turn, and a send that fails is retried under the same
    key on the next process (the key is in the shared database). A 507 (disk full) is
    retried under the same key after its Retry-After, as a client script would; anything
    but 201 and the client's own 503 retries (and, with several clients, the fail-over)
    stops the sender (a 500 fails the run)."""

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
        self.key_mismatches = 0
        self.full = 0  # 507 STORAGE_FULL answers
        self.last_send = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _send(self, n: int, key: str) -> str:
        attempt = 0
        while True:
            client = self.clients[(n + attempt) % len(self.clients)]
            try:
                return str(client.send(self.to, self.payload, idempotency_key=key)["message_id"])
            except RemoteError as e:
                if e.status == 507 and e.remote_code == "STORAGE_FULL":
                    self.full += 1
                    hint = getattr(e, "retry_after", None)
                    time.sleep(min(2.0, float(hint)) if hint and hint.isdigit() else 1.0)
                    continue
                if len(self.clients) == 1 or attempt >= SEND_ATTEMPTS - 1:
                    raise
            except GatewayError:
                if len(self.clients) == 1 or attempt >= SEND_ATTEMPTS - 1:
                    raise
            attempt += 1  # fail over to the next process, same key
            time.sleep(0.2)

    def _run(self) -> None:
        while self.done() < self.count:  # a fault may raise count while it lasts
            n = self.done()
            while self.pace is not None and not self.pace(n):
                time.sleep(0.05)
            key = secrets.token_urlsafe(16)
            try:
                self.by_key[key] = self._send(n, key)
                self.last_send = time.monotonic()
                # The same key once more (on the other process, if there are two): must
                # answer the same message, never a second one.
                if len(self.by_key) % 25 == 0 and self._send(n + 1, key) != self.by_key[key]:
                    self.key_mismatches += 1
                    self.errors.append(f"key {key[:6]}… gave two message ids")
            except GatewayError as e:
                code = getattr(e, "remote_code", e.code)
                self.errors.append(f"send failed: {code}: {e}")
                return

    def done(self) -> int:
        return len(self.by_key)

    def reached(self, goal: int) -> bool:
        """``goal`` messages accepted (or the sender gave up)."""
        return self.done() >= goal or not self.thread.is_alive()


def _delivered_all(client: OfficerClient, pending: set[str],
                   statuses: dict[str, dict[str, Any]]) -> bool:
    for m in list(pending):
        st = client.status(m)
        if all(d["state"] == "delivered" and d.get("receipt") for d in st["deliveries"]):
            pending.discard(m)
            statuses[m] = st
        else:
            return False
    return not pending


def check(cluster: Cluster, sender: Sender, receivers: list[str], canary: str,
          result: Result, fault_end: float, timeout: float) -> dict[str, dict[str, Any]]:
    """Wait for every receipt, then count, verify the logs and scan for the canary; returns
    the final status of every message (by id)."""
    lc = cluster.clients[LAOCAI]
    mids = list(sender.by_key.values())
    result.problems.extend(sender.errors)
    result.sent = len(mids)
    pending = set(mids)
    statuses: dict[str, dict[str, Any]] = {}
    try:
        wait_until(lambda: _delivered_all(lc, pending, statuses), timeout, "every receipt")
    except TimeoutError as e:
        result.problems.append(str(e))
        with contextlib.suppress(GatewayError):  # count every one, not up to the first
            for m in list(pending):
                st = lc.status(m)
                if all(d["state"] == "delivered" and d.get("receipt")
                       for d in st["deliveries"]):
                    pending.discard(m)
    result.recover_s = max(0.0, time.monotonic() - fault_end)
    result.receipted = len(mids) - len(pending)
    result.dup_id += len(mids) - len(set(mids))
    result.dup_key += sender.key_mismatches
    for office in receivers:
        inbox = inbox_ids(cluster.procs[office].home)
        result.received += len(inbox)
        result.dup_id += len(inbox) - len(set(inbox))
        # A message no key answered with: a retry under one key made a second message.
        result.dup_key += len(set(inbox) - set(mids))
        result.lost += len(set(mids) - set(inbox))
    # Audit logs: both sides cosign each other's log (as far as it was when every receipt
    # was in), then export and verify offline.
    bundles = []
    try:
        for office in cluster.offices:
            size = int(cluster.clients[office].health()["audit"]["size"])
            for other in receivers if office == LAOCAI else [LAOCAI]:
                wait_until(functools.partial(_cosigned, cluster, office, other, size),
                           timeout, f"{other} cosigning the log of {office}")
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
    # Every home (the twin's too): its files, and its PostgreSQL tables if it has any.
    result.canary_found.extend(canary_places(
        sorted({proc.home for proc in cluster.procs.values()}), canary, cluster.root))
    return statuses


def canary_places(homes: list[Path], canary: str, root: Path) -> list[str]:
    """Where ``canary`` lies in clear: every file under the gateway ``homes`` (SQLite
    database and its journal, logs, keys, tokens) holding its bytes, and for a gateway whose
    store is PostgreSQL every table of its schema with a row holding it (as text, or as the
    hex of a bytea column). Paths relative to ``root``; [] when clean."""
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
            result.injected += 1
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
            wait_until(lambda: _delivered_all(cluster.clients[HEKOU], pending, {}), timeout,
                       "every receipt from Lào Cai")
        except TimeoutError as e:
            result.problems.append(str(e))
        inbox = inbox_ids(cluster.procs[LAOCAI].home)
        result.dup_id += len(inbox) - len(set(inbox))
        result.dup_key += len(set(inbox) - set(mids)) + back.key_mismatches
        result.lost += len(set(mids) - set(inbox))
    except (TimeoutError, GatewayError, AssertionError) as e:
        result.problems.append(f"{type(e).__name__}: {e}")
    finally:
        cluster.close()
    return result


def _cosigned(cluster: Cluster, office: str, other: str, size: int = 0) -> bool:
    """``other`` has cosigned the log of ``office`` up to ``size``, or as far as a checkpoint
    is due (``/health`` ``witness_due_to``: the records of ``office``'s own witnessing at the
    end wait for a later checkpoint; node/witness.py)."""
    h = cluster.clients[office].health()
    to = int(h["peers"][other]["cosigned_our_log_to"])
    return to > 0 and to >= min(size, int(h["audit"]["witness_due_to"]))


def store_named_in_health(client: OfficerClient) -> str:
    """What ``/health`` (with a token) says of the store: its field, or the code of the
    answer when the token could not be looked up either."""
    try:
        return str(client.health()["store"])
    except RemoteError as e:
        return e.remote_code
    except GatewayError as e:
        return e.code


def latency_figures(statuses: dict[str, dict[str, Any]], peer: str) -> dict[str, float]:
    """Per peer: delivery latency (created -> delivered) p50/p95/max in s, and the rate
    (messages per second from the first creation to the last delivery)."""
    pairs = [(st["created_at_ms"], d["delivered_at_ms"]) for st in statuses.values()
             for d in st["deliveries"] if d["to"] == peer and d["delivered_at_ms"]]
    if not pairs:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "max": 0.0, "rate": 0.0}
    lat = sorted((b - a) / 1000 for a, b in pairs)
    span = (max(b for _, b in pairs) - min(a for a, _ in pairs)) / 1000
    return {"n": len(lat), "p50": lat[len(lat) // 2], "p95": lat[min(len(lat) - 1,
            int(len(lat) * 0.95))], "max": lat[-1], "rate": len(lat) / max(span, 1e-3)}


@dataclass
class Knobs:
    """How hard each fault hits (the command line's options)."""

    kills: int = 2
    seconds: float = 3.0
    delay_s: float = 0.2
    pg_dsn: str = ""
    timeout: float = 240.0
    kill_only: str | None = None
    restarts: int = 1
    clock_offset_s: float = 10.0
    slow_peer_delay_s: float = 1.0
    disk_mb: int = 48
    disk_mount: bool = True  # False: the file-size limit even where a tmpfs could be mounted


class Run:
    """One fault on fresh gateways: the cluster, the sender and what the fault did."""

    def __init__(self, fault: str, root: Path, messages: int, k: Knobs,
                 rng: random.Random) -> None:
        self.fault, self.k, self.rng, self.messages = fault, k, rng, messages
        self.canary = f"CANARY{secrets.token_hex(8).upper()}"
        self.result = Result(fault)
        self.pg: PrivatePostgres | None = None
        self.disk: SmallDisk | None = None
        self.proxy: DelayProxy | None = None
        offices: tuple[str, ...] = (LAOCAI, HEKOU)
        if fault in ("down", "slowpeer"):
            offices = (LAOCAI, HEKOU, LAOCAI_BORDER_GUARD)
        self.receivers = [HEKOU, LAOCAI_BORDER_GUARD] if len(offices) == 3 else [HEKOU]
        ports = {o: (free_port(), free_port()) for o in offices}
        peer_urls = None
        if fault in ("slow", "slowpeer"):
            target, delay = ((HEKOU, k.delay_s) if fault == "slow"
                             else (LAOCAI_BORDER_GUARD, k.slow_peer_delay_s))
            self.proxy = DelayProxy(ports[target][0], delay).start()
            peer_urls = {LAOCAI: {target: f"http://127.0.0.1:{self.proxy.port}"}}
        pg_dsn = k.pg_dsn
        if fault == "pgrestart" or (fault == "pgkill" and not pg_dsn):
            self.pg = PrivatePostgres()
            pg_dsn = self.pg.dsn
        if fault == "disk":
            pg_dsn = ""  # the full disk is under an SQLite home
            self.disk = SmallDisk(root / LAOCAI, k.disk_mb, mount=k.disk_mount)
        settings = {"max_skew_ms": 2000} if fault == "clock" else {}
        self.cluster = Cluster(root, offices, pg_dsn, peer_urls=peer_urls, ports=ports,
                               settings=settings)
        self.sender = Sender(self.cluster.clients[LAOCAI], self.receivers,
                             canary_payload(self.canary), messages)

    def wait_sent(self, goal: int, what: str) -> None:
        wait_until(functools.partial(self.sender.reached, goal), self.k.timeout, what)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cluster.close()
        for thing in (self.disk, self.proxy, self.pg):
            if thing is not None:
                with contextlib.suppress(Exception):
                    thing.close() if not isinstance(thing, DelayProxy) else thing.stop()


def fault_kill(run: Run) -> None:
    k = run.k
    for i in range(k.kills):
        target = k.kill_only or run.rng.choice([LAOCAI, HEKOU])
        run.wait_sent((i + 1) * run.messages // (k.kills + 1), "sends before a kill")
        run.cluster.restart(target)
        run.result.injected += 1


def fault_stop(run: Run) -> None:
    run.wait_sent(run.messages // 4, "sends before the stop")
    proc = run.cluster.procs[HEKOU].proc
    assert proc is not None
    proc.send_signal(signal.SIGSTOP)
    run.result.injected += 1
    time.sleep(run.k.seconds)
    proc.send_signal(signal.SIGCONT)


def fault_down(run: Run) -> None:
    # Hekou keeps receiving while the post is down: all of it before the post is up.
    run.sender.thread.join(run.k.timeout)
    pending = set(run.sender.by_key.values())

    def hekou_has_all() -> bool:
        pending.difference_update(inbox_ids(run.cluster.procs[HEKOU].home))
        return not pending

    wait_until(hekou_has_all, run.k.timeout, "Hekou receiving while the post is down")
    run.result.injected += 1
    run.cluster.start(LAOCAI_BORDER_GUARD)


def _health_during_outage(run: Run, seconds: float) -> list[str]:
    """Poll Lào Cai's /health for ``seconds``: what it said of the store each time."""
    said = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        said.append(store_named_in_health(run.cluster.clients[LAOCAI]))
        time.sleep(0.25)
    return said


def fault_pgrestart(run: Run) -> None:
    assert run.pg is not None
    said: list[str] = []
    for i in range(run.k.restarts):
        run.wait_sent((i + 1) * run.messages // (run.k.restarts + 1),
                      "sends before a database restart")
        run.pg.stop("fast")
        run.result.injected += 1
        said += _health_during_outage(run, run.k.seconds)
        run.pg.start()
    _judge_health(run, said)


def _judge_health(run: Run, said: list[str]) -> None:
    named = sum(s == "STORAGE_UNAVAILABLE" for s in said)
    run.result.notes.append(f"/health during the outage named the store "
                            f"(STORAGE_UNAVAILABLE) {named} of {len(said)} times")
    if not named:
        run.result.problems.append(f"/health never named the failing store: {set(said)}")


def fault_pgkill(run: Run) -> None:
    names = [f"blo-gateway {s}" for s in run.cluster.schemas.values()]
    admin = pg_engine(run.cluster.pg_dsn)
    said: list[str] = []
    try:
        run.wait_sent(run.messages // 4, "sends before the terminations")
        until = time.monotonic() + run.k.seconds
        while time.monotonic() < until or not run.sender.reached(3 * run.messages // 4):
            with admin.begin() as c:
                run.result.injected += len(c.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = ANY(:names)"), {"names": names}).all())
            said.append(store_named_in_health(run.cluster.clients[LAOCAI]))
            time.sleep(0.2)
    finally:
        admin.dispose()
    run.result.notes.append(f"/health while sessions were terminated: "
                            f"{dict(collections.Counter(said))}")


def fault_disk(run: Run) -> None:
    assert run.disk is not None
    run.wait_sent(run.messages // 4, "sends before the disk fills")
    proc = run.cluster.procs[LAOCAI].proc
    assert proc is not None
    retried = run.cluster.clients[LAOCAI].retried
    # Keep sending until the full disk refuses one: SQLite reuses the space its WAL already
    # has, so the first writes after the fill may still fit.
    run.sender.count = 10**9
    run.disk.fill(proc.pid)
    run.result.injected += 1
    full_before, unavailable_before = run.sender.full, retried["503 STORAGE_UNAVAILABLE"]

    def refused() -> bool:
        if run.sender.full > full_before or not run.sender.thread.is_alive():
            return True
        # SQLite reports a write past RLIMIT_FSIZE (EFBIG) as an I/O error, not as a full
        # disk (ENOSPC): 503 STORAGE_UNAVAILABLE there, 507 STORAGE_FULL on a real disk.
        return not run.disk.mounted and retried["503 STORAGE_UNAVAILABLE"] > unavailable_before

    try:
        wait_until(refused, run.k.timeout, "a 507 from the full disk")
        time.sleep(run.k.seconds)
    finally:
        run.sender.count = max(run.messages, run.sender.done() + 1)
        run.disk.free()
    run.result.notes.append(f"disk full ({run.disk.how}): {run.sender.full} answers "
                            f"507 STORAGE_FULL, then space freed")
    if run.disk.mounted and not run.sender.full:
        run.result.problems.append("the full disk was never answered 507 STORAGE_FULL")


def fault_clock(run: Run) -> None:
    lib = faketime_lib()
    assert lib is not None
    run.wait_sent(run.messages // 4, "sends before the clock moves")
    offset = run.k.clock_offset_s
    env = {"LD_PRELOAD": str(lib), "FAKETIME": f"{offset:+.0f}s",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_NO_CACHE": "1"}
    run.cluster.restart(LAOCAI, env=env, sig=signal.SIGTERM)
    run.result.injected += 1
    lc = run.cluster.clients[LAOCAI]
    skew = int(lc.health()["time_ms"]) - int(time.time() * 1000)
    first = run.sender.done()
    codes: collections.Counter[str] = collections.Counter()

    def refused_for_skew() -> bool:
        # Messages around the restart: queued, refused by Hekou for the skew.
        for mid in list(run.sender.by_key.values())[max(0, first - 10):first + 20]:
            for d in lc.status(mid)["deliveries"]:
                codes[f"{d['state']} {d['error_code']}"] += 1
        return codes["queued EXPIRED"] > 0

    try:
        wait_until(refused_for_skew, max(30.0, run.k.seconds * 4), "a refusal for the skew")
    except TimeoutError:
        run.result.problems.append(f"no refusal for the skew seen: {dict(codes)}")
    time.sleep(run.k.seconds)
    run.cluster.restart(LAOCAI, sig=signal.SIGTERM)
    run.result.notes.append(f"Lào Cai's clock {skew / 1000:+.1f} s (faketime), max_skew 2 s: "
                            f"deliveries seen {dict(codes)}; then the clock restored")


def fault_slowpeer(run: Run) -> None:
    run.result.injected += 1  # the proxy is slow from the start to the end


FAULT_ACTIONS: dict[str, Callable[[Run], None]] = {
    "kill": fault_kill, "stop": fault_stop, "slow": fault_slowpeer, "down": fault_down,
    "pgrestart": fault_pgrestart, "pgkill": fault_pgkill, "disk": fault_disk,
    "clock": fault_clock, "slowpeer": fault_slowpeer}


def run_fault(fault: str, root: Path, messages: int, kills: int = 2, seconds: float = 3.0,
              delay_s: float = 0.2, pg_dsn: str = "", timeout: float = 240.0,
              seed: int | None = None, kill_only: str | None = None,
              **knobs: Any) -> Result:
    """One fault on fresh gateways under ``root``; the Result of the checks.
    ``kill_only``: the office the kill fault hits (random between the two if None); other
    ``knobs`` as in ``Knobs`` (the twin fault uses none of them)."""
    if fault == "twin":
        if not pg_dsn:
            return Result(fault, problems=["cannot run here: twin needs PostgreSQL (--pg)"])
        return run_twin(root, messages, kills, pg_dsn, timeout)
    k = Knobs(kills=kills, seconds=seconds, delay_s=delay_s, pg_dsn=pg_dsn, timeout=timeout,
              kill_only=kill_only, **knobs)
    why = missing(fault, pg_dsn)
    if why:
        return Result(fault, problems=[f"cannot run here: {why}"])
    rng = random.Random(seed)  # noqa: S311 - chaos, not crypto
    run = None
    try:
        run = Run(fault, root, messages, k, rng)
        result, cluster, sender = run.result, run.cluster, run.sender
        for office in cluster.offices:
            if not (fault == "down" and office == LAOCAI_BORDER_GUARD):
                cluster.start(office)
        sender.thread.start()
        FAULT_ACTIONS[fault](run)
        fault_end = time.monotonic()
        sender.thread.join(timeout)
        if fault in ("slow", "slowpeer"):
            fault_end = sender.last_send  # the link stays slow: from the last send
        statuses = check(cluster, sender, run.receivers, run.canary, result, fault_end,
                         timeout)
        retried = dict(cluster.clients[LAOCAI].retried)
        if retried:
            result.notes.append(f"keyed sends retried: {retried}")
        if retried.get("503 without Retry-After"):
            result.problems.append("a 503 came without Retry-After")
        if fault == "slowpeer":
            _judge_slowpeer(result, statuses)
    except (TimeoutError, GatewayError, AssertionError, OSError,
            subprocess.SubprocessError) as e:
        result = run.result if run is not None else Result(fault)
        result.problems.append(f"{type(e).__name__}: {e}")
    finally:
        if run is not None:
            run.close()
    return result


def _judge_slowpeer(result: Result, statuses: dict[str, dict[str, Any]]) -> None:
    fast, slow = (latency_figures(statuses, p) for p in (HEKOU, LAOCAI_BORDER_GUARD))
    for name, f in ((HEKOU, fast), (f"{LAOCAI_BORDER_GUARD} (slow)", slow)):
        result.notes.append(f"{name}: {f['n']} delivered, {f['rate']:.1f} msg/s, latency "
                            f"p50 {f['p50']:.2f} s p95 {f['p95']:.2f} s max {f['max']:.2f} s")
    # Not held back: the healthy peer's typical latency is well under the slow one's.
    if not fast["p50"] * 2 < slow["p50"]:
        result.problems.append(f"the healthy peer was held back: p50 {fast['p50']:.2f} s "
                               f"against the slow peer's {slow['p50']:.2f} s")


def table(results: list[Result]) -> str:
    head = ("fault", "injected", "sent", "received", "lost", "dup_id", "dup_key",
            "receipted", "logs", "canary", "recover_s", "takeover_s", "result")
    rows = [head] + [(r.fault, str(r.injected), str(r.sent), str(r.received), str(r.lost),
                      str(r.dup_id), str(r.dup_key), str(r.receipted),
                      "verified" if r.logs_ok else "FAILED",
                      "clean" if not r.canary_found else f"FOUND {len(r.canary_found)}",
                      f"{r.recover_s:.1f}",
                      ",".join(f"{t:.2f}" for t in r.takeover_s) or "-",
                      "ok" if r.ok else "FAIL") for r in results]
    total = Result("TOTAL", injected=sum(r.injected for r in results),
                   sent=sum(r.sent for r in results), received=sum(r.received for r in results),
                   lost=sum(r.lost for r in results), dup_id=sum(r.dup_id for r in results),
                   dup_key=sum(r.dup_key for r in results),
                   receipted=sum(r.receipted for r in results))
    if len(results) > 1:
        rows.append((total.fault, str(total.injected), str(total.sent), str(total.received),
                     str(total.lost), str(total.dup_id), str(total.dup_key),
                     str(total.receipted), "", "", "", "",
                     "ok" if all(r.ok for r in results) else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    for r in results:
        lines += [f"{r.fault}: {n}" for n in r.notes]
        lines += [f"{r.fault}: PROBLEM {p}" for p in r.problems[:3]]
        lines += [f"{r.fault}: canary in {f}" for f in r.canary_found[:3]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=200, help="messages per fault")
    ap.add_argument("--kill-messages", type=int, default=0,
                    help="messages in the kill fault (default: --messages)")
    ap.add_argument("--kills", type=int, default=4, help="SIGKILLs in the kill fault")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="how long SIGSTOP, a database outage, a full disk, a wrong clock "
                         "and the session killing last")
    ap.add_argument("--restarts", type=int, default=1, help="database restarts (pgrestart)")
    ap.add_argument("--delay", type=float, default=0.2, help="slow link: seconds per chunk")
    ap.add_argument("--slow-peer-delay", type=float, default=1.0,
                    help="slowpeer: seconds per chunk on the slow peer's link")
    ap.add_argument("--clock-offset", type=float, default=10.0,
                    help="clock: seconds Lào Cai's clock is moved (beyond max_skew_ms 2 s; "
                         "at most 300 s, see docs/faults.md)")
    ap.add_argument("--disk-rlimit", action="store_true",
                    help="disk: a file-size limit on the gateway even where a tmpfs mounts")
    ap.add_argument("--faults", default=",".join(f for f in FAULTS if f != "twin"),
                    help=f"comma-separated, of {', '.join(FAULTS)} (twin needs --pg; "
                    "default: all but twin)")
    ap.add_argument("--pg", default="", metavar="DSN",
                    help="run the gateways on PostgreSQL (a fresh schema each; pgrestart "
                         "always uses a private throwaway cluster)")
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
            n = a.kill_messages if fault == "kill" and a.kill_messages else a.messages
            start = time.monotonic()
            results.append(run_fault(fault, Path(tmp) / fault, n, kills=a.kills,
                                     seconds=a.seconds, delay_s=a.delay, pg_dsn=a.pg,
                                     timeout=a.timeout, restarts=a.restarts,
                                     clock_offset_s=a.clock_offset,
                                     slow_peer_delay_s=a.slow_peer_delay,
                                     disk_mount=not a.disk_rlimit))
            print(f"{fault}: done in {time.monotonic() - start:.0f} s "
                  f"({'ok' if results[-1].ok else 'FAIL'})", file=sys.stderr, flush=True)
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
