"""The dashboard and the inbox and sent lists: metadata only (the message page and its actions:
``pages_actions``). A role limited to some message types (``roles.message_types``) sees only
those messages and the cases they open."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.node import roles
from gateway.node.ports import WebAppHost
from gateway.node.web.context import (
    PAGE,
    SESSION,
    WebContext,
    state_label,
    status_label,
)
from gateway.protocol.errors import Malformed
from gateway.protocol.messages import MessageType
from gateway.protocol.workflow import WAITING
from gateway.store.web import ListFilter

__all__ = ["add_routes"]

_CASE_REF = re.compile(r"[A-Za-z0-9._/-]{1,64}")


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw, ws, page = cx.gw, cx.ws, cx.page

    async def dashboard(request: web.Request) -> web.Response:
        now = gw.clock.now_ms()
        types = _types(request)
        cases = await gw.store.call(gw.store.sync.cases, limit=500)
        urgent, due = [], []
        for c in cases:
            if types and c["message_type"] not in types:
                continue
            waiting = c["state"] in WAITING[c["kind"]]
            if not waiting:
                continue
            c["overdue"] = c["deadline_ms"] < now
            if c["overdue"] or c["priority"] == 3:
                urgent.append(c)
            elif c["deadline_ms"] < now + 24 * 3600_000:
                due.append(c)
        urgent.sort(key=lambda c: (not c["overdue"], c["deadline_ms"]))
        due.sort(key=lambda c: c["deadline_ms"])
        new, n_new = await gw.store.call(ws.message_page, "in",
                                          ListFilter(unopened=True, types=types), 0, 10)
        health = await gw.health()
        return page(request, "dashboard.html", urgent=urgent, due=due, new=new, n_new=n_new,
                    peers=health["peers"], alerts=health["audit"].get("alerts", []),
                    warnings=health["warnings"], state_label=state_label)

    async def message_list(request: web.Request) -> web.Response:
        direction = "in" if request.path.endswith("inbox") else "out"
        q = request.query
        f, page_no, problems = _filters(q, gw)
        f = replace(f, types=_types(request))
        rows, total = await gw.store.call(ws.message_page, direction, f, page_no * PAGE, PAGE)
        keep = {k: v for k, v in q.items() if k != "page" and v}
        base = request.path + "?" + urlencode(keep) + ("&" if keep else "")
        return page(request, "list.html", direction=direction, rows=rows, total=total,
                    page_no=page_no, pages=max(1, -(-total // PAGE)), base=base,
                    q=dict(q), problems=problems,
                    types=[m for m in MessageType if not f.types or m in f.types],
                    sent_ok=q.get("ok") == "1", status_label=status_label)

    app.router.add_get("/", dashboard)
    app.router.add_get("/inbox", message_list)
    app.router.add_get("/sent", message_list)


def _types(request: web.Request) -> tuple[int, ...]:
    """The message types the session's role is limited to (empty: every type)."""
    return tuple(sorted(int(m) for m in roles.message_types(request[SESSION].role) or ()))


def _filters(q: Any, gw: WebAppHost) -> tuple[ListFilter, int, list[str]]:
    problems: list[str] = []
    mt = q.get("type", "")
    try:
        mtype = int(MessageType.from_slug(mt)) if mt else 0
    except Malformed:
        mtype, problems = 0, [*problems, "type"]
    pr = q.get("priority", "")
    priority = int(pr) if pr in ("1", "2", "3") else 0
    ref = q.get("case", "").strip()
    if ref and not _CASE_REF.fullmatch(ref):
        ref, problems = "", [*problems, "case"]
    since = until = 0
    for name in ("from", "to"):
        day = q.get(name, "")
        if not day:
            continue
        try:
            d = datetime.fromisoformat(day).date()
            ms = int(datetime(d.year, d.month, d.day, tzinfo=gw.zone).timestamp() * 1000)
        except ValueError:
            problems.append(name)
            continue
        if name == "from":
            since = ms
        else:
            until = ms + 86_400_000
    pg = q.get("page", "0")
    page_no = min(int(pg), 10_000) if pg.isascii() and pg.isdigit() else 0
    return ListFilter(mtype, ref, priority, since, until), page_no, problems
