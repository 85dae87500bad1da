"""Live alerts for the web app: who is told, at once, that a message arrived.

``AlertHub`` is an in-process fan-out. The peer API publishes one ``Arrival`` per envelope
it newly stored (metadata only: ids, type, priority, sender, case reference); each open web
page holds a subscription (``gateway.node.web.pages_alerts``, server-sent events) and turns
an arrival into its unread count and, for an urgent message, a banner and a desktop
notification. Nothing is kept: a page that opens later reads the counts from the store.

A subscriber's queue is bounded (``QUEUE``): a page that does not read loses its oldest
arrivals, never the gateway's memory; the number of subscribers is capped (``MAX_STREAMS``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.protocol.errors import Busy

__all__ = ["MAX_STREAMS", "QUEUE", "AlertHub", "Arrival"]

MAX_STREAMS = 256
QUEUE = 64


@dataclass(frozen=True)
class Arrival:
    """A newly stored envelope, as the alert stream sees it (no content)."""

    message_id: str
    message_type: int
    priority: int
    sender: str
    case_reference: str
    received_at_ms: int


class AlertHub:
    def __init__(self) -> None:
        self._subs: set[asyncio.Queue[Arrival | None]] = set()
        self.closed = False

    def subscribe(self) -> asyncio.Queue[Arrival | None]:
        """A new subscription; ``None`` arrives when the gateway stops."""
        if len(self._subs) >= MAX_STREAMS:
            raise Busy(f"{MAX_STREAMS} alert streams are open; try again later")
        q: asyncio.Queue[Arrival | None] = asyncio.Queue(QUEUE)
        if self.closed:
            q.put_nowait(None)
        self._subs.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Arrival | None]) -> None:
        self._subs.discard(q)

    def publish(self, arrival: Arrival) -> None:
        for q in self._subs:
            if q.full():
                q.get_nowait()  # the oldest goes: a slow page must not hold memory
            q.put_nowait(arrival)

    def close(self) -> None:
        """End every stream (the gateway stops)."""
        self.closed = True
        for q in self._subs:
            if q.full():
                q.get_nowait()
            q.put_nowait(None)

    @property
    def subscribers(self) -> int:
        return len(self._subs)
