"""The trust directory a gateway holds: never rolled back, checked on every use, replaced live.

Invariants:

* Every directory the gateway accepts is remembered in the store (``directory_history``:
  serial, SHA-256, the signed bytes verbatim). A directory with a lower serial than the
  highest accepted (a **rollback**, which could undo a revocation) or with the same serial
  and other bytes (a **fork**) is refused with ``BAD_DIRECTORY`` and raised as an alert
  (audit log and ``/health``): at start (the gateway does not start), at install, and
  when a peer offers one.
* A newer directory that verifies against the pinned roots (2-of-2) and still lists one
  of our unrevoked keys replaces the one in memory at once, without a restart, and the
  directory file atomically, so that a restart starts from it.
* Expiry is checked on every use, not only at start: with an expired directory the
  gateway refuses peer requests and sealing (``DIRECTORY_EXPIRED``, 503); ``/health``
  warns ``directory_warn_days`` before.
* The office keyring is read again from its file at every install, so that keys added by
  ``keys rotate`` (which rewrites the file while the gateway runs) can open what is sealed
  to them; the gateway signs only with keys the directory it holds lists unrevoked
  (``Keyring.usable_in``), so a rotation takes effect when the directory listing the new
  keys is installed, and a revoked key of ours stops being used at once.
* A **root rotation** (``gateway.protocol.rootset``) is installed together with the first
  directory its new roots signed: the root set is checked against the roots in force, the
  directory against the new roots, then ``roots.json`` is replaced (an audit leaf
  ``roots.accepted``) and the directory installed as above. A crash between the two file
  writes leaves the new roots with the old directory; installing the same pair again
  completes it (the root set then changes nothing). The root set is kept verbatim in
  ``root-set.bin`` in the home and served to peers (``GET /peer/v1/roots``): a gateway
  offered a directory signed by roots it does not know fetches the peer's root set,
  checks it against its own roots in force (the peer is not trusted for it: the set needs
  the signatures of every current and every new root) and installs both, so a root
  rotation, like a directory, reaches the other side within one ping interval.
* Peers offer each other their serial: a ping carries the sender's serial in its signed
  query (``?directory_serial=N``) and the answer carries the receiver's. A gateway that
  sees a higher serial fetches ``GET /peer/v1/directory`` from that peer, verifies and
  installs it. Pings run every ``PING_EVERY_S`` (30 s), and a gateway that installs a
  directory pings its peers at once, so a revocation reaches both sides within one ping
  interval, and normally within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.node.config import Config
from gateway.node.logs import get_logger
from gateway.node.ports import TrustHost
from gateway.protocol import peerrequest
from gateway.protocol.errors import (
    ConfigError,
    DirectoryError,
    DirectoryExpired,
    GatewayError,
    PeerUnavailable,
    UnknownRoot,
)
from gateway.protocol.identity import (
    MAX_DIRECTORY_BYTES,
    Directory,
    Keyring,
    TrustRoots,
    suite_2_since,
)
from gateway.protocol.localtime import iso_time
from gateway.protocol.rootset import verify_root_set
from gateway.store import Store, make_engine, prepare_schema

__all__ = ["ALERT_ORIGIN", "DIRECTORY_PATH", "ROOTS_PATH", "DirectoryKeeper",
           "install_offline", "load_keyring", "write_atomically"]

log = get_logger("trust")
ALERT_ORIGIN = "trust-directory"
DIRECTORY_PATH = "/peer/v1/directory"
ROOTS_PATH = "/peer/v1/roots"
ROOT_SET_FILE = "root-set.bin"  # in the home: the root set of the roots in force, verbatim
DAY_MS = 86_400_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` so that a reader (or a crash) sees the old file or the new, never half."""
    tmp = path.with_name(path.name + ".new")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename durable where the OS allows it
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_keyring(cfg: Config) -> Keyring:
    """The office keyring from its file (``keys rotate`` may have added keys since start)."""
    ring = Keyring.load(cfg.path(cfg.keyring))
    if ring.office_id != cfg.office_id:
        raise ConfigError(f"keyring is for {ring.office_id}, config says {cfg.office_id}")
    return ring


def _roots_event(roots: TrustRoots, now_ms: int, source: str) -> dict[str, Any]:
    """The audit leaf of a root rotation (``serial`` is the root set's version)."""
    kind, _, who = source.partition(":")
    event: dict[str, Any] = {"t": now_ms, "type": "roots.accepted", "serial": roots.version,
                             "keys": sorted(r.key_id for r in roots.roots), "kind": kind}
    if who:
        event["peer" if kind == "peer" else "user"] = who
    return event


def _check_lists_us(d: Directory, office_id: str, keyring: Keyring) -> None:
    mine = {k.key_id for k in keyring.keys}
    try:
        listed = {k.key_id for k in d.office(office_id).keys}
    except GatewayError as e:
        raise DirectoryError(f"directory serial {d.serial} does not list {office_id}") from e
    if not (mine & listed) - set(d.revoked):
        raise DirectoryError(f"directory serial {d.serial} lists none of {office_id}'s keys "
                             "unrevoked; rotate the keyring and list the new keys first")


def _refusal(store: Store, d: Directory, outcome: str, top: int, now_ms: int,
             source: str) -> DirectoryError:
    """Record a rollback or fork as an alert; the error to raise."""
    sha = hashlib.sha256(d.signed_bytes).hexdigest()
    if outcome == "rollback":
        msg = (f"directory serial {d.serial} is older than serial {top}, which this gateway "
               "has already accepted; a rollback is refused (it could undo a revocation). "
               f"Install a co-signed directory with serial {top} or higher")
    else:
        msg = (f"directory serial {d.serial} (sha256 {sha[:16]}…) differs from the serial "
               f"{d.serial} this gateway accepted before; two directories with one serial "
               "(a fork) are refused")
    store.alert(ALERT_ORIGIN, f"directory_{outcome}", f"{source}: {msg}", now_ms)
    log.error("directory_refused", kind=outcome, serial=d.serial, held=top, source=source)
    return _Refused(msg)


def install_offline(cfg: Config, signed: bytes, *, now_ms: int,
                    root_set: bytes | None = None) -> tuple[Directory, int]:
    """Install a directory (with ``root_set``: after a root rotation) into a gateway home
    whose gateway is not running.

    Returns the directory and the serial held before. The same checks as a running
    gateway: roots, validity, lists our keys, no rollback or fork against the store."""
    current = TrustRoots.load(cfg.path(cfg.roots))
    roots = current if root_set is None else verify_root_set(root_set, current)
    keyring = load_keyring(cfg)
    d = Directory.verify(signed, roots, now_ms=now_ms)
    _check_lists_us(d, cfg.office_id, keyring)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        prepare_schema(engine, upgrade=cfg.auto_migrate)
        store = Store(engine, cfg.office_id)
        sha = hashlib.sha256(signed).digest()
        outcome, top = store.directory_compare(d.serial, sha)
        if outcome in ("rollback", "fork"):
            raise _refusal(store, d, outcome, top, now_ms, "install")
        if roots is not current and root_set is not None:
            write_atomically(cfg.home / ROOT_SET_FILE, root_set)
            write_atomically(cfg.path(cfg.roots), roots.to_json().encode())
            store.audit([_roots_event(roots, now_ms, "install")])
        # The file first: a crash before the store records it leaves a newer file, which
        # the next start accepts; the other order would leave an "older" file behind.
        write_atomically(cfg.path(cfg.directory), signed)
        outcome, top = store.directory_record(d.serial, sha, signed, now_ms=now_ms,
                                              source="install")
        if outcome in ("rollback", "fork"):
            raise _refusal(store, d, outcome, top, now_ms, "install")
    finally:
        engine.dispose()
    return d, top


class _Refused(DirectoryError):
    """A rollback or a fork, already recorded as an alert (still ``BAD_DIRECTORY``)."""


class DirectoryKeeper:
    """Holds ``gw.directory`` current: start-up check, live install, peer offers, expiry."""

    def __init__(self, gw: TrustHost) -> None:
        self.gw = gw
        self.lock = asyncio.Lock()
        self._fetch: asyncio.Task[None] | None = None
        self._tried: dict[tuple[str, int], float] = {}
        #: the root set that put the roots in force in place (None: never rotated)
        self.root_set: bytes | None = None
        #: office → issued_at_ms of the first accepted directory listing it with suite 2
        #: (``identity.suite_2_since``; reception's grace for what was queued at the switch)
        self.upgraded_at: dict[str, int] = {}

    # ------------------------------------------------------------------ checks

    def require_current(self) -> None:
        """``DIRECTORY_EXPIRED`` if our directory has expired (checked on every use)."""
        d = self.gw.directory
        if d.expired(self.gw.clock.now_ms()):
            raise DirectoryExpired(
                f"the trust directory (serial {d.serial}) expired at "
                f"{iso_time(d.expires_at_ms)}; install a newer co-signed directory "
                "(blo-gateway directory install)")

    def middleware(self) -> Middleware:
        """A peer-app middleware refusing every request while our directory has expired."""

        @web.middleware
        async def directory_current(request: web.Request,
                                    handler: Handler) -> web.StreamResponse:
            self.require_current()
            return await handler(request)

        return directory_current

    def health(self) -> dict[str, Any]:
        d, now = self.gw.directory, self.gw.clock.now_ms()
        left = d.expires_at_ms - now
        warn_ms = self.gw.config.directory_warn_days * DAY_MS
        state = "expired" if left <= 0 else ("expiring" if left < warn_ms else "ok")
        warning = None
        if state == "expired":
            warning = (f"trust directory serial {d.serial} expired at "
                       f"{iso_time(d.expires_at_ms)}: peer traffic and sealing are refused")
        elif state == "expiring":
            warning = (f"trust directory serial {d.serial} expires in {left / DAY_MS:.1f} "
                       f"days ({iso_time(d.expires_at_ms)}); install a newer one")
        return {"serial": d.serial, "sha256": hashlib.sha256(d.signed_bytes).hexdigest(),
                "expires_at_ms": d.expires_at_ms, "days_left": round(left / DAY_MS, 2),
                "state": state, "warning": warning}

    # ------------------------------------------------------------------ start and install

    async def check_at_start(self) -> None:
        """Compare the directory file with those accepted before: record it if new, refuse
        to start on a rollback or a fork (recorded as an alert)."""
        gw = self.gw
        d, now = gw.directory, gw.clock.now_ms()
        with contextlib.suppress(FileNotFoundError):
            self.root_set = await asyncio.to_thread(
                (gw.config.home / ROOT_SET_FILE).read_bytes)
        sha = hashlib.sha256(d.signed_bytes).digest()
        outcome, top = await gw.store.call(gw.store.sync.directory_record, d.serial, sha,
                                           d.signed_bytes, now_ms=now, source="start")
        if outcome in ("rollback", "fork"):
            err = await gw.store.call(_refusal, gw.store.sync, d, outcome, top, now, "start")
            raise DirectoryError(f"{gw.config.path(gw.config.directory)}: {err.message}")
        await self._read_upgrades()

    async def _read_upgrades(self) -> None:
        bodies = await self.gw.store.call(self.gw.store.sync.directory_bodies)
        self.upgraded_at = suite_2_since(bodies)

    async def install(self, signed: bytes, *, source: str,
                      root_set: bytes | None = None) -> tuple[Directory, int, bool]:
        """Verify and install a directory into the running gateway; with ``root_set``, the
        root rotation whose new roots signed it, first.

        Returns (the directory now held, the serial held before, whether it changed).
        The same directory again changes nothing."""
        gw = self.gw
        async with self.lock:
            now = gw.clock.now_ms()
            before = gw.directory
            roots = gw.roots if root_set is None else verify_root_set(root_set, gw.roots)
            d = Directory.verify(signed, roots, now_ms=now)
            sha = hashlib.sha256(signed).digest()
            outcome, top = await gw.store.call(gw.store.sync.directory_compare, d.serial, sha)
            if outcome == "same" and d.serial == before.serial and roots is gw.roots:
                return before, before.serial, False
            if outcome in ("rollback", "fork"):
                raise await gw.store.call(_refusal, gw.store.sync, d, outcome, top, now, source)
            ring = await asyncio.to_thread(load_keyring, gw.config)
            _check_lists_us(d, gw.office_id, ring)
            if roots is not gw.roots and root_set is not None:
                await asyncio.to_thread(write_atomically, gw.config.home / ROOT_SET_FILE,
                                        root_set)
                await asyncio.to_thread(write_atomically, gw.config.path(gw.config.roots),
                                        roots.to_json().encode())
                self.root_set = root_set
                await gw.store.call(gw.store.sync.audit, [_roots_event(roots, now, source)])
                gw.roots = roots
                log.info("roots_installed", version=roots.version, source=source)
            await asyncio.to_thread(write_atomically, gw.config.path(gw.config.directory),
                                    signed)
            outcome, top = await gw.store.call(gw.store.sync.directory_record, d.serial, sha,
                                               signed, now_ms=now, source=source)
            if outcome in ("rollback", "fork"):
                raise await gw.store.call(_refusal, gw.store.sync, d, outcome, top, now, source)
            self._swap(d, ring)
            await self._read_upgrades()
        log.info("directory_installed", serial=d.serial, previous=before.serial, source=source,
                 revoked=len(d.revoked))
        gw.spawn(self.offer_to_peers(), name="directory-offer")
        return d, before.serial, True

    def _swap(self, d: Directory, ring: Keyring) -> None:
        gw = self.gw
        gw.directory = d
        gw.keyring = ring.usable_in(d)
        for office in d.offices.values():  # offices new in this directory get a worker
            url = gw.config.peer_urls.get(office.office_id) or office.endpoint
            if office.office_id != gw.office_id and url and office.office_id not in gw.deliveries:
                gw.add_peer(office.office_id, url)

    async def refresh(self) -> None:
        """Pick up a newer directory recorded in the store by ``directory install`` while
        this process was running (e.g. the API was unreachable)."""
        latest = await self.gw.store.call(self.gw.store.sync.directory_latest)
        if latest is not None and latest["serial"] > self.gw.directory.serial:
            await self.install(latest["body"], source="store")

    # ------------------------------------------------------------------ peers

    async def offer_to_peers(self) -> None:
        """Ping every peer now: the ping carries our serial, the answer theirs."""
        await asyncio.gather(*(self.gw.ping(p) for p in list(self.gw.deliveries)))

    def offered(self, peer: str, serial: int) -> None:
        """``peer`` (authenticated) holds directory ``serial``: fetch it if it is newer.

        One fetch at a time; a (peer, serial) that failed is tried again after a minute."""
        if serial <= self.gw.directory.serial or peer not in self.gw.deliveries:
            return
        if self._fetch is not None and not self._fetch.done():
            return
        now = time.monotonic()
        last = self._tried.get((peer, serial))
        if last is not None and now - last < 60.0:
            return
        if len(self._tried) > 64:
            self._tried.clear()
        self._tried[(peer, serial)] = now
        self._fetch = self.gw.spawn(self._fetch_from(peer, serial), name="directory-fetch")

    async def _get(self, peer: str, path: str) -> bytes:
        """A signed GET of ``path`` from ``peer``'s peer API; the body (at most 1 MiB; to a
        version-2 request, only if the answer is signed by the peer)."""
        gw = self.gw
        req = peerrequest.sign(gw.keyring, gw.directory, method="GET", path_qs=path,
                               destination=peer, body=b"", now_ms=gw.clock.now_ms())
        async with gw.http.get(gw.deliveries[peer].url + path, headers=req.headers,
                               timeout=aiohttp.ClientTimeout(total=10)) as resp:
            body = await resp.content.read(MAX_DIRECTORY_BYTES + 1)
            if resp.status != 200:
                raise PeerUnavailable(f"{peer} answered HTTP {resp.status}")
            if req.version >= 2 and not peerrequest.answer_verified(
                    req, status=resp.status, headers=resp.headers, body=body,
                    directory=gw.directory, now_ms=gw.clock.now_ms(),
                    max_skew_ms=gw.config.max_skew_ms):
                # Not the peer's answer, perhaps: nothing to blame it for (no alert).
                raise PeerUnavailable(f"{peer}'s answer is not signed by it")
        return body

    async def _fetch_from(self, peer: str, serial: int) -> None:
        gw = self.gw
        try:
            body = await self._get(peer, DIRECTORY_PATH)
            try:
                await self.install(body, source=f"peer:{peer}")
            except UnknownRoot:
                # Signed by roots we do not hold: the peer's side of a root rotation was
                # installed first. Its root set is checked against our roots in force.
                root_set = await self._get(peer, ROOTS_PATH)
                await self.install(body, source=f"peer:{peer}", root_set=root_set)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            log.warning("directory_fetch_failed", peer=peer, serial=serial,
                        error=type(e).__name__)
        except GatewayError as e:
            log.warning("directory_fetch_failed", peer=peer, serial=serial, code=e.code)
            # Signed by roots we do not know yet and the peer has no root set for them (it
            # may be installing one): tried again later, not an alert.
            if isinstance(e, DirectoryError) and not isinstance(e, _Refused | UnknownRoot):
                await gw.store.call(gw.store.sync.alert, ALERT_ORIGIN, "directory_refused",
                                    f"peer:{peer} offered serial {serial}: {e.message}",
                                    gw.clock.now_ms())
