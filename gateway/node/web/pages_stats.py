"""The statistics page: a reporting period picked (quarter, half-year, year, counted in the
office's zone), the figures against the plans' targets as a table and an SVG bar chart
rendered here, and the same figures as CSV and PDF. Metadata only; officer, supervisor and
auditor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.node import roles
from gateway.node.records import stats_pdf
from gateway.node.web.context import SESSION, WebContext, state_label
from gateway.protocol.errors import Malformed
from gateway.protocol.stats import compute_stats, period_of, stats_csv
from gateway.views.stats_chart import TARGETS, WIDTH, count_bars, share_bars

__all__ = ["KINDS", "ROLES", "add_routes"]

ROLES = tuple(sorted(roles.PAGES["stats"]))
KINDS = {"quarter": ("Q", 4), "half": ("H", 2), "year": ("", 1)}


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    def pick(q: Any) -> tuple[str, dict[str, Any]]:
        """The period name from the picker (default: the current quarter here)."""
        now = datetime.fromtimestamp(gw.clock.now_ms() / 1000, tz=gw.zone)
        kind = q.get("kind", "quarter")
        year, n = q.get("year", str(now.year)), q.get("n", str((now.month - 1) // 3 + 1))
        if kind not in KINDS:
            raise Malformed("kind must be quarter, half or year")
        letter, count = KINDS[kind]
        if not (year.isascii() and year.isdigit() and len(year) == 4):
            raise Malformed("year must be four digits")
        if count > 1 and not (n.isascii() and n.isdigit() and 1 <= int(n) <= count):
            n = "1"
        name = year if not letter else f"{year}-{letter}{n}"
        return name, {"kind": kind, "year": int(year), "n": int(n) if letter else 1,
                      "years": list(range(now.year, now.year - 6, -1))}

    async def figures(request: web.Request, name: str) -> dict[str, Any]:
        await cx.need_role(request, "stats", *ROLES)
        p = period_of({"period": name}, gw.zone)
        items = await gw.store.call(gw.store.sync.cases_between, p.start_ms, p.end_ms)
        return compute_stats(items, office=gw.office_id, start_ms=p.start_ms, end_ms=p.end_ms,
                             now_ms=gw.clock.now_ms(), zone=gw.zone, period=p.name)

    async def stats(request: web.Request) -> web.Response:
        name, picked = pick(request.query)
        f = await figures(request, name)
        lang = request[SESSION].lang
        return cx.page(request, "stats.html", f=f, period=name, picked=picked,
                       shares=share_bars(f, lang), counts=count_bars(f, lang), width=WIDTH,
                       targets=TARGETS, state_label=state_label)

    async def download(request: web.Request) -> web.Response:
        name = request.query.get("period", "")
        f = await figures(request, name)
        safe = name.replace("-", "_")
        if request.path.endswith(".csv"):
            return web.Response(text=stats_csv(f), content_type="text/csv", headers={
                "Content-Disposition": f'attachment; filename="stats_{safe}.csv"'})
        return web.Response(body=stats_pdf(f), content_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="stats_{safe}.pdf"'})

    app.router.add_get("/stats", stats)
    app.router.add_get("/stats.csv", download)
    app.router.add_get("/stats.pdf", download)
