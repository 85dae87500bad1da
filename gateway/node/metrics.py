"""Metrics for Prometheus: every metric a gateway exports is defined here, and only here.

Where: ``GET /metrics`` on the officer API, with a bearer token of role ``auditor`` or
``admin`` (Prometheus: ``authorization: {credentials_file: ...}``; see
``deploy/prometheus/``). No second port: the officer listener already has the Host check,
the token check and the connection guard. One registry per running gateway, so that two
gateways in one process (the tests) never share a counter.

Two kinds of metric:

* **counted as it happens** (counters, histograms): refusals by API and stable error code,
  delivery latency (accepted here → the peer's receipt verified), receipt round trip (the
  batch request sent → its receipts verified), store call latency by store method, sign-ins
  by role;
* **read at scrape time** (``exposition``): one store snapshot (``Store.metrics_snapshot``:
  messages by type × direction × state, queue depth and oldest queued age per peer, audit
  log size, age of the latest checkpoint and of each peer's latest cosignature of our log,
  alerts, overdue case items), the delivery workers and pinger (peer up, clock skew,
  consecutive failures), the directory (expiry, serial) and the hostile-traffic counters of
  ``gateway.node.guard`` (connection guard events, pre-authentication failures, accept
  errors).

Labels are bounded sets only: listener names, peer office ids from the signed directory,
message type slugs, states, error codes matching ``[A-Z_]{1,40}``, store method names and
roles. No user name, message id, case reference or content is ever a label or a value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.protocol.messages import MessageType

__all__ = ["CONTENT_TYPE", "GatewayMetrics", "Scrape"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
_HTTP_CODES = {400: "MALFORMED", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}
_STORE_OPS = re.compile(r"[a-z_][a-z0-9_]{0,47}")


@dataclass
class Scrape:
    """What the running gateway knows at scrape time, besides the store snapshot."""

    now_ms: int
    snapshot: dict[str, Any]
    directory_serial: int
    directory_expires_ms: int
    #: per peer: ``reachable`` (bool | None), ``clock_skew_ms``, ``failures``
    peers: Mapping[str, Mapping[str, Any]]
    #: per listener ("peer", "officer"): the guard's counters and open connections
    guards: Mapping[str, tuple[Mapping[str, int], int]]
    preauth_failures: int = 0
    preauth_addresses: int = 0
    accept_errors: Mapping[str, int] = field(default_factory=dict)


def _code_of(resp: web.StreamResponse) -> str:
    """The stable code of an error response (``{"code": ...}``), else one from its status."""
    body = getattr(resp, "body", None)
    if isinstance(body, bytes) and len(body) < 4096:
        try:
            code = json.loads(body).get("code")
        except (ValueError, AttributeError):
            code = None
        if isinstance(code, str) and _CODE.fullmatch(code):
            return code
    return _HTTP_CODES.get(resp.status, f"HTTP_{resp.status}")


def _age_s(now_ms: int, then_ms: int | None) -> float:
    return math.inf if then_ms is None else max(0.0, (now_ms - then_ms) / 1000)


def _slug(message_type: int) -> str:
    try:
        return MessageType(message_type).slug
    except ValueError:
        return "unknown"


class _ScrapeCollector(Collector):
    """Yields the gauges of the scrape set just before ``generate_latest`` runs."""

    def __init__(self) -> None:
        self.scrape: Scrape | None = None

    def collect(self) -> Iterable[Metric]:
        s = self.scrape
        if s is None:
            return
        snap, now = s.snapshot, s.now_ms
        msgs = GaugeMetricFamily("blo_messages", "Messages held, by type, direction (out: one "
                                 "per recipient office) and state",
                                 labels=["type", "direction", "state"])
        for direction, mtype, state, n in snap["messages"]:
            msgs.add_metric([_slug(mtype), direction, state], n)
        yield msgs
        depth = GaugeMetricFamily("blo_queue_depth", "Envelopes queued for a peer",
                                  labels=["peer"])
        oldest = GaugeMetricFamily("blo_queue_oldest_age_seconds",
                                   "Age of the oldest envelope queued for a peer (0: none)",
                                   labels=["peer"])
        for peer in sorted(set(s.peers) | set(snap["queue"])):
            n, first = snap["queue"].get(peer, (0, None))
            depth.add_metric([peer], n)
            oldest.add_metric([peer], 0.0 if first is None else _age_s(now, first))
        yield depth
        yield oldest
        yield GaugeMetricFamily("blo_audit_log_size", "Leaves in this gateway's audit log",
                                value=snap["audit_size"])
        yield GaugeMetricFamily("blo_checkpoint_age_seconds",
                                "Age of the latest signed checkpoint of our audit log "
                                "(+Inf: none yet)", value=_age_s(now, snap["checkpoint_ms"]))
        cos_age = GaugeMetricFamily("blo_peer_cosignature_age_seconds",
                                    "Age of the peer's latest cosignature of our audit log "
                                    "(+Inf: never cosigned)", labels=["peer"])
        cos_size = GaugeMetricFamily("blo_peer_cosigned_size",
                                     "Size of our audit log that the peer last cosigned",
                                     labels=["peer"])
        for peer in sorted(set(s.peers) | set(snap["cosigned"])):
            size, t = snap["cosigned"].get(peer, (0, None))
            cos_age.add_metric([peer], _age_s(now, t))
            cos_size.add_metric([peer], size)
        yield cos_age
        yield cos_size
        # The total is always there (from 0), so that the first alert is an increase.
        yield CounterMetricFamily("blo_audit_alerts", "Witness and directory alerts recorded "
                                  "(rollback, fork, bad cosignature, ...)",
                                  value=sum(snap["alerts"].values()))
        alerts = CounterMetricFamily("blo_audit_alerts_by_kind", "Alerts recorded, by kind",
                                     labels=["kind"])
        for kind, n in sorted(snap["alerts"].items()):
            alerts.add_metric([kind], n)
        yield alerts
        overdue = GaugeMetricFamily("blo_overdue_cases", "Case items waiting past their "
                                    "deadline, by kind", labels=["kind"])
        for kind in ("request", "handover", "notice"):
            overdue.add_metric([kind], snap["overdue"].get(kind, 0))
        yield overdue
        up = GaugeMetricFamily("blo_peer_up", "1 if the peer's gateway answered our last "
                               "ping or delivery, else 0", labels=["peer"])
        skew = GaugeMetricFamily("blo_peer_clock_skew_seconds", "Peer clock minus ours, "
                                 "measured by ping", labels=["peer"])
        fails = GaugeMetricFamily("blo_peer_delivery_failures", "Consecutive failed delivery "
                                  "attempts to the peer", labels=["peer"])
        for peer, info in sorted(s.peers.items()):
            up.add_metric([peer], 1.0 if info.get("reachable") else 0.0)
            if info.get("clock_skew_ms") is not None:
                skew.add_metric([peer], int(info["clock_skew_ms"]) / 1000)
            fails.add_metric([peer], int(info.get("failures") or 0))
        yield up
        yield skew
        yield fails
        yield GaugeMetricFamily("blo_directory_expiry_seconds", "Seconds until the installed "
                                "trust directory expires (negative: expired)",
                                value=(s.directory_expires_ms - now) / 1000)
        yield GaugeMetricFamily("blo_directory_serial", "Serial of the installed trust "
                                "directory", value=s.directory_serial)
        conns = CounterMetricFamily("blo_connections", "Connection guard events by listener "
                                    "(accepted, refused_total_cap, refused_address_cap, "
                                    "evicted_idle, closed_slow_head, closed_idle)",
                                    labels=["listener", "event"])
        open_ = GaugeMetricFamily("blo_connections_open", "Open connections by listener",
                                  labels=["listener"])
        for listener, (counters, n_open) in sorted(s.guards.items()):
            for event in ("accepted", "refused_total_cap", "refused_address_cap",
                          "evicted_idle", "closed_slow_head", "closed_idle"):
                conns.add_metric([listener, event], counters.get(event, 0))
            open_.add_metric([listener], n_open)
        yield conns
        yield open_
        yield CounterMetricFamily("blo_preauth_failures", "Peer API requests that failed "
                                  "before authentication (counted against the address)",
                                  value=s.preauth_failures)
        yield GaugeMetricFamily("blo_preauth_addresses", "Addresses tracked by the "
                                "pre-authentication failure limiter", value=s.preauth_addresses)
        accept = CounterMetricFamily("blo_accept_errors", "Errors accepting connections "
                                     "(e.g. descriptor exhaustion), by error",
                                     labels=["error"])
        for error, n in sorted(s.accept_errors.items()):
            accept.add_metric([error], n)
        yield accept


class GatewayMetrics:
    """The registry of one running gateway and its live instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.refusals = Counter("blo_refusals", "Requests refused, by API (peer, officer) "
                                "and stable error code", ["api", "code"], registry=r)
        self.delivery = Histogram(
            "blo_delivery_seconds", "From accepted here to the peer's verified receipt",
            ["peer"], registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400))
        self.receipt = Histogram(
            "blo_receipt_round_trip_seconds", "From a delivery request sent to its receipts "
            "verified", ["peer"], registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.store = Histogram(
            "blo_store_call_seconds", "Store calls (on the store thread, queueing included), "
            "by store method", ["op"], registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
        self.signins = Counter("blo_signins", "Officer API sign-ins (first request with a "
                               "token since start), by role", ["role"], registry=r)
        self._scrape = _ScrapeCollector()
        r.register(self._scrape)

    def observe_store(self, op: str, seconds: float) -> None:
        self.store.labels(op if _STORE_OPS.fullmatch(op) else "other").observe(seconds)

    def delivered(self, peer: str, *, sent_ms: int, now_ms: int,
                  stored_at_ms: Iterable[int]) -> None:
        """A delivery request's receipts verified: the round trip, and each envelope's wait."""
        self.receipt.labels(peer).observe(max(0, now_ms - sent_ms) / 1000)
        hist = self.delivery.labels(peer)
        for t in stored_at_ms:
            if t:
                hist.observe(max(0, now_ms - t) / 1000)

    def middleware(self, api: str) -> Callable[..., Awaitable[web.StreamResponse]]:
        """Counts every 4xx/5xx of ``api`` by its stable code (outside the error middleware,
        so it sees the answer the client got)."""

        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                resp = await handler(request)
            except web.HTTPException as e:
                if e.status >= 400:
                    self.refusals.labels(api, _HTTP_CODES.get(e.status, f"HTTP_{e.status}")
                                         ).inc()
                raise
            if resp.status >= 400:
                self.refusals.labels(api, _code_of(resp)).inc()
            return resp

        return count

    def exposition(self, scrape: Scrape) -> bytes:
        """The text format, with the gauges of ``scrape`` (synchronous: nothing can run
        between setting the scrape and reading it)."""
        self._scrape.scrape = scrape
        try:
            return generate_latest(self.registry)
        finally:
            self._scrape.scrape = None
