"""What each piece of a running node may use of it: narrow ``typing.Protocol``s.

The composition root (``gateway.node.gateway.Gateway``) builds the pieces and hands each
itself, typed as the port that piece declares here, so that delivery cannot reach the
officer API and the witness cannot install a directory. Gateway satisfies every port
structurally (mypy checks it where it passes itself on); nothing here imports a node
module, so no piece imports the composition root and no import cycle remains.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.typedefs import Middleware

from gateway.node.alerts import AlertHub
from gateway.node.clock import Clock
from gateway.node.config import Config
from gateway.node.metrics import GatewayMetrics
from gateway.protocol.identity import Directory, Keyring, TrustRoots
from gateway.protocol.messages import Payload
from gateway.store import AsyncStore, IdempotentAnswer

__all__ = [
    "CourierHost",
    "CurrentDirectory",
    "DeliveryHost",
    "DirectoryInstaller",
    "DirectoryOffers",
    "Node",
    "OfficerHost",
    "PeerApiHost",
    "PeerLink",
    "ReceptionHost",
    "RecordsHost",
    "RedeliveryHost",
    "SuiteUpgrades",
    "TrustHost",
    "WebAppHost",
    "WitnessHost",
]


class Node(Protocol):
    """What every piece reads: who we are, our keys, the directory, the store, the clock."""

    @property
    def office_id(self) -> str: ...
    @property
    def config(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def directory(self) -> Directory: ...
    @property
    def store(self) -> AsyncStore: ...
    @property
    def metrics(self) -> GatewayMetrics: ...


class PeerLink(Protocol):
    """One peer office as the other pieces see its delivery worker: where it listens, and
    the event that wakes it (something was queued for that peer)."""

    @property
    def url(self) -> str: ...
    @property
    def wake(self) -> asyncio.Event: ...


class DeliveryHost(Node, Protocol):
    """``delivery.PeerDelivery``: the shared HTTP client and the per-peer health notes."""

    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def peer_info(self) -> dict[str, dict[str, Any]]: ...


class WitnessHost(Node, Protocol):
    """``witness``: the peers to ask for cosignatures, and one lock for check-and-record."""

    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def deliveries(self) -> Mapping[str, PeerLink]: ...
    @property
    def witness_lock(self) -> asyncio.Lock: ...


class RedeliveryHost(Node, Protocol):
    """``redelivery``: the peers to ask to re-send after a restore, and the HTTP client."""

    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def deliveries(self) -> Mapping[str, PeerLink]: ...


class TrustHost(Node, Protocol):
    """``trust.DirectoryKeeper``: the only piece that replaces the directory."""

    directory: Directory  # settable: a live install swaps it
    keyring: Keyring  # settable: re-read at install (keys rotate), signing keys per directory
    roots: TrustRoots  # settable: a root rotation replaces it
    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def deliveries(self) -> Mapping[str, PeerLink]: ...
    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]: ...
    def add_peer(self, office: str, url: str) -> None: ...
    async def ping(self, peer: str) -> None: ...


class RecordsHost(Node, Protocol):
    """``records``: the office's time zone and sending (a signature travels as a message)."""

    @property
    def zone(self) -> ZoneInfo: ...
    async def submit(self, payload: Payload, to: Sequence[str], *, user: str,
                     self_copy: bool = False,
                     idempotency: Callable[[bytes], IdempotentAnswer] | None = None
                     ) -> bytes: ...


class SuiteUpgrades(Protocol):
    """What reception asks of the directory keeper: when each office moved to suite 2."""

    @property
    def upgraded_at(self) -> Mapping[str, int]: ...


class DirectoryOffers(SuiteUpgrades, Protocol):
    """What the peer API asks of the directory keeper."""

    root_set: bytes | None
    def middleware(self) -> Middleware: ...
    def offered(self, peer: str, serial: int) -> None: ...


class CurrentDirectory(SuiteUpgrades, Protocol):
    """What the courier asks of the directory keeper: is our directory still valid?"""

    def require_current(self) -> None: ...


class DirectoryInstaller(CurrentDirectory, Protocol):
    """What the officer API asks of the directory keeper."""

    async def install(self, signed: bytes, *, source: str, root_set: bytes | None = None
                      ) -> tuple[Directory, int, bool]: ...


class ReceptionHost(Node, Protocol):
    """``reception``: storing a peer's envelopes; the open pages learn of each new one."""

    @property
    def alerts(self) -> AlertHub: ...
    @property
    def trust(self) -> SuiteUpgrades: ...


class PeerApiHost(ReceptionHost, Protocol):
    """``peer_api``: witnessing (a peer's checkpoint), directory offers, peer liveness."""

    @property
    def trust(self) -> DirectoryOffers: ...
    @property
    def http(self) -> aiohttp.ClientSession: ...
    @property
    def deliveries(self) -> Mapping[str, PeerLink]: ...
    @property
    def witness_lock(self) -> asyncio.Lock: ...
    async def peer_seen(self, peer: str, now_ms: int, skew_ms: int) -> None: ...


class CourierHost(ReceptionHost, DeliveryHost, WitnessHost, Protocol):
    """``courier``: reception, the delivery side's receipts and witnessing, by bundle; one
    lock so that two bundles to or from one peer are not made or imported at once."""

    @property
    def courier_lock(self) -> asyncio.Lock: ...
    @property
    def trust(self) -> CurrentDirectory: ...


class WebAppHost(RecordsHost, Protocol):
    """``web``: sending, the peers it may address, the health summary for the dashboard,
    the live alerts, the trust roots (the auditor's verification pins them)."""

    @property
    def deliveries(self) -> Mapping[str, PeerLink]: ...
    @property
    def alerts(self) -> AlertHub: ...
    @property
    def roots(self) -> TrustRoots: ...
    async def health(self) -> dict[str, Any]: ...


class OfficerHost(WebAppHost, CourierHost, Protocol):
    """``officer_api``: sending, records, the directory install, courier bundles and the
    health summary (and what the web app it mounts needs)."""

    @property
    def trust(self) -> DirectoryInstaller: ...
    @property
    def users_changed(self) -> Callable[[], object]:
        """Changes whenever a ``users``/``tokens`` command ran (``node.home.users_stamp``)."""
    async def health(self) -> dict[str, Any]: ...
    async def metrics_text(self) -> bytes: ...
