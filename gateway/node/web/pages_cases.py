"""The case page: one case's timeline as this side knows it (metadata only)."""

from __future__ import annotations

from aiohttp import web

from gateway.node.web.context import HEX_ID, WebContext, state_label
from gateway.protocol.errors import NotFound
from gateway.protocol.workflow import WAITING

__all__ = ["add_routes"]


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def case(request: web.Request) -> web.Response:
        root = request.match_info["id"]
        if not HEX_ID.fullmatch(root):
            raise NotFound("a case id is 32 lower-case hex digits")
        item, events = await gw.store.call(cx.ws.case_timeline, root)
        if item is None and not events:
            raise NotFound("no such case here")
        now = gw.clock.now_ms()
        return cx.page(request, "case.html", item=item, events=events, now=now,
                       state_label=state_label, waiting=bool(
                           item and item["state"] in WAITING[item["kind"]]))

    app.router.add_get("/cases/{id}", case)
