"""Statistics for the periodic reports, computed from stored states and metadata only.

Reporting periods (seed plan 000 §VI): quarters, half-years and years. The figures the
plans ask for: counts by type, direction and outcome; the share of hotline reports
received that were classified (target 100 %); the share of items resolved (target above
90 %); the median response time; and what is overdue. Nothing here reads a payload.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from gateway.messages import MessageType
from gateway.workflow import WAITING

__all__ = ["RESOLVED", "compute_stats", "parse_day", "stats_csv"]

#: states that count as resolved for the resolution rate
RESOLVED = {"request": {"answered", "closed"}, "handover": {"executed", "closed"},
            "notice": {"acknowledged", "in_progress", "closed"}}


def parse_day(text: str) -> int:
    """An ISO date (start of that day, UTC+7 as the provincial reports use) in Unix ms."""
    d = date.fromisoformat(text)
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000) - 7 * 3600_000


def compute_stats(items: list[dict[str, Any]], *, office: str, start_ms: int, end_ms: int,
                  now_ms: int) -> dict[str, Any]:
    """Figures for items opened in [start_ms, end_ms)."""
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
    for key in ("items", "hotline_reports_received", "hotline_reports_classified_share",
                "resolved", "resolved_share", "median_response_hours", "overdue"):
        w.writerow([key, "" if stats[key] is None else stats[key]])
    return out.getvalue()
