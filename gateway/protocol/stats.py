"""Statistics for the periodic reports, computed from stored states and metadata only.

Reporting periods (seed plan 000 §VI): days, quarters, half-years and years, counted in
the office's own time zone (``gateway.protocol.localtime``): Lào Cai's 2026-Q1 ends at midnight
Asia/Ho_Chi_Minh (UTC+7), Hekou's at midnight Asia/Shanghai (UTC+8), so an item opened
at 23:30 on 31 March in Lào Cai is Q2 in Hekou. The figures name their zone. The figures the
plans ask for: counts by type, direction and outcome; the share of hotline reports
received that were classified (target 100 %); the share of items resolved (target above
90 %); the median response time; and what is overdue. Nothing here reads a payload.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from gateway.protocol.errors import Malformed
from gateway.protocol.localtime import Period, parse_day, parse_period
from gateway.protocol.messages import MessageType
from gateway.protocol.workflow import WAITING

__all__ = ["RESOLVED", "compute_stats", "parse_day", "period_of", "stats_csv"]

#: states that count as resolved for the resolution rate
RESOLVED = {"request": {"answered", "closed"}, "handover": {"executed", "closed"},
            "notice": {"acknowledged", "in_progress", "closed"}}


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def period_of(query: Mapping[str, str], zone: ZoneInfo) -> Period:
    """The reporting period of a request: ``period=2026-Q1`` (or a day, ``2026-H1``,
    ``2026``), or ``from``/``to`` days (``to`` exclusive), in the office's ``zone``."""
    if "period" in query:
        if "from" in query or "to" in query:
            raise Malformed("give period, or from and to, not both")
        return parse_period(query["period"], zone)
    if "from" not in query or "to" not in query:
        raise Malformed("give period=YYYY-Qn|YYYY-Hn|YYYY|YYYY-MM-DD, or from=YYYY-MM-DD and "
                        "to=YYYY-MM-DD (to is exclusive)")
    p = Period(f"{query['from']}..{query['to']}", _day(query["from"]), _day(query["to"]), zone)
    if p.end_ms <= p.start_ms:
        raise Malformed("to must be after from")
    return p


def _day(text: str) -> date:
    if not _DAY.fullmatch(text):
        raise Malformed(f"{text!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise Malformed(f"{text!r} is not a date YYYY-MM-DD") from e


def compute_stats(items: list[dict[str, Any]], *, office: str, start_ms: int, end_ms: int,
                  now_ms: int, zone: ZoneInfo | None = None, period: str = "") -> dict[str, Any]:
    """Figures for items opened in [start_ms, end_ms); ``zone`` is the one the period was
    counted in (named in the figures)."""
    by: Counter[tuple[str, str, str]] = Counter()
    response_h: list[float] = []
    overdue = 0
    reports_in = classified = 0
    for it in items:
        mtype = MessageType(it["message_type"]).slug
        direction = "sent" if it["opened_by"] == office else "received"
        by[(mtype, direction, it["state"])] += 1
        if it["answered_ms"] is not None:
            response_h.append((it["answered_ms"] - it["created_ms"]) / 3600_000)
        if it["state"] in WAITING[it["kind"]] and it["deadline_ms"] < min(now_ms, end_ms):
            overdue += 1
        if mtype == "hotline_report" and direction == "received":
            reports_in += 1
            classified += it["root_step"] != 0
    resolved = sum(1 for it in items if it["state"] in RESOLVED[it["kind"]])
    return {
        "office": office, "from_ms": start_ms, "to_ms": end_ms, "items": len(items),
        "period": period, "time_zone": zone.key if zone is not None else "UTC",
        "by_type_direction_state": [
            {"type": t, "direction": d, "state": s, "count": n}
            for (t, d, s), n in sorted(by.items())],
        "hotline_reports_received": reports_in,
        "hotline_reports_classified_share": (classified / reports_in) if reports_in else None,
        "resolved": resolved,
        "resolved_share": (resolved / len(items)) if items else None,
        "median_response_hours": statistics.median(response_h) if response_h else None,
        "overdue": overdue,
    }


def stats_csv(stats: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["type", "direction", "state", "count"])
    for row in stats["by_type_direction_state"]:
        w.writerow([row["type"], row["direction"], row["state"], row["count"]])
    w.writerow([])
    for key in ("period", "time_zone", "from_ms", "to_ms", "items", "hotline_reports_received",
                "hotline_reports_classified_share", "resolved", "resolved_share",
                "median_response_hours", "overdue"):
        w.writerow([key, "" if stats[key] is None else stats[key]])
    return out.getvalue()
