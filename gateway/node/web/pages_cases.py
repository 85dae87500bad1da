"""The case page: one case's timeline as this side knows it (metadata only), with the steps of
a handover (``pages_handover``); and every case of the office, for the supervisor.

A role limited to some message types (the Border Guard) sees only the cases those types
open (403, logged, for the others)."""

from __future__ import annotations

from aiohttp import web

from gateway.node import roles
from gateway.node.web import pages_handover
from gateway.node.web.context import HEX_ID, PAGE, SESSION, WebContext, state_label
from gateway.protocol.errors import Forbidden, NotFound
from gateway.protocol.workflow import INITIAL, TERMINAL, WAITING

__all__ = ["STATES", "add_routes"]

#: the states a case list can be filtered by (every state of every kind)
STATES = sorted({*INITIAL.values(), *TERMINAL, *(s for w in WAITING.values() for s in w),
                 "answered", "agreed", "scheduled", "executed"})


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def case(request: web.Request) -> web.Response:
        root = request.match_info["id"]
        if not HEX_ID.fullmatch(root):
            raise NotFound("a case id is 32 lower-case hex digits")
        item, events = await gw.store.call(cx.ws.case_timeline, root)
        if item is None and not events:
            raise NotFound("no such case here")
        types = roles.message_types(request[SESSION].role)
        if types is not None and (item is None or item["message_type"] not in types):
            await cx.refuse(request, Forbidden.code, kind="case", message_id=root)
            raise Forbidden(f"role {request[SESSION].role} does not see this case")
        now = gw.clock.now_ms()
        handover = await pages_handover.steps(cx, request, item, events)
        return cx.page(request, "case.html", item=item, events=events, now=now,
                       state_label=state_label, handover=handover, waiting=bool(
                           item and item["state"] in WAITING[item["kind"]]))

    async def all_cases(request: web.Request) -> web.Response:
        """Every case of the office, newest first; ``?state=`` keeps one state (e.g. the
        escalated ones), ``?overdue=1`` the overdue ones."""
        await cx.need_role(request, "cases", *roles.PAGES["cases"])
        state = request.query.get("state", "")
        state = state if state in STATES else ""
        overdue = request.query.get("overdue") == "1"
        now = gw.clock.now_ms()
        rows = []
        for c in await gw.store.call(gw.store.sync.cases, limit=10 * PAGE):
            c["overdue"] = c["state"] in WAITING[c["kind"]] and c["deadline_ms"] < now
            if (state and c["state"] != state) or (overdue and not c["overdue"]):
                continue
            rows.append(c)
        return cx.page(request, "cases.html", rows=rows, states=STATES, state=state,
                       overdue=overdue, state_label=state_label)

    app.router.add_get("/cases", all_cases)
    app.router.add_get("/cases/{id}", case)
