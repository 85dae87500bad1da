"""The alert stream: ``GET /app/alerts`` as server-sent events, for every open page.

On connecting, a page gets ``event: unread`` with the counts of unopened received messages
(all, urgent). Each newly stored envelope (``gateway.node.alerts``) sends the counts again:
``event: urgent`` for an urgent one, with a banner text in the user's language (type,
sender office, case reference; metadata only) and, for a role that reads content, the link
to open it; ``event: unread`` otherwise. ``static/app.js`` shows the banner, the count and
a desktop notification where the user allowed them.

The stream checks its session every ``PING_S`` seconds without restarting its idle clock
(an unattended page still times out) and ends when the session ends or the gateway stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from gateway.node import roles
from gateway.node import webauth as auth
from gateway.node.alerts import Arrival
from gateway.node.web.context import (
    CSP,
    PREFIX,
    SESSION,
    SESSION_ID,
    WebContext,
    t,
)
from gateway.protocol.messages import Priority

__all__ = ["PING_S", "add_routes"]

PING_S = 15.0


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    def banner(a: Arrival, lang: str) -> str:
        parts = [t(lang)("web.urgent_alert"), cx.type_label(a.message_type, lang),
                 cx.office_name(a.sender, lang)]
        return " · ".join(parts + ([a.case_reference] if a.case_reference else []))

    async def stream(request: web.Request) -> web.StreamResponse:
        sess = request[SESSION]
        sid_hash = auth.session_hash(request[SESSION_ID])
        types = tuple(sorted(int(x) for x in roles.message_types(sess.role) or ()))
        queue = gw.alerts.subscribe()
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"})
        try:
            await resp.prepare(request)

            async def send(event: str, data: dict[str, Any]) -> None:
                await resp.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

            async def counts() -> dict[str, Any]:
                n, urgent = await gw.store.call(cx.ws.unread_counts, types)
                return {"unread": n, "urgent_unread": urgent}

            await resp.write(b"retry: 3000\n\n")
            await send("unread", await counts())
            while True:
                try:
                    a = await asyncio.wait_for(queue.get(), PING_S)
                except TimeoutError:
                    live = await gw.store.call(cx.ws.session_live, sid_hash, gw.clock.now_ms(),
                                               idle_ms=cx.idle_ms, lifetime_ms=cx.lifetime_ms)
                    if not live:
                        await send("ended", {})
                        break
                    await resp.write(b": ping\n\n")
                    continue
                if a is None:
                    break
                if types and a.message_type not in types:
                    continue  # a role limited to some types hears only of those
                data = await counts()
                if a.priority == int(Priority.URGENT):
                    data["text"] = banner(a, sess.lang)
                    data["href"] = (PREFIX + "messages/" + a.message_id
                                    if roles.may_read(sess.role, a.message_type) else "")
                    await send("urgent", data)
                else:
                    await send("unread", data)
        except ConnectionResetError:
            pass  # the page was closed
        finally:
            gw.alerts.unsubscribe(queue)
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp

    app.router.add_get("/alerts", stream)
