"""The statistics page's chart, as geometry for a server-rendered SVG (no script library).

``share_bars`` turns the figures into one horizontal bar per target (the share of hotline
reports classified, target 100 %; the share of items resolved, target above 90 %) with the
target's mark; ``count_bars`` one bar per message type (items of the period). The template
draws rectangles from these numbers; nothing here is markup, so autoescape covers every
label.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from gateway.protocol.glossary import term
from gateway.views.render import message_type_label

__all__ = ["TARGETS", "Bar", "count_bars", "share_bars"]

WIDTH = 400  # the bars' full width in SVG units (100 %, or the largest count)
#: figure key -> (target share, whether the figure must exceed it rather than reach it)
TARGETS = {"hotline_reports_classified_share": (1.0, False), "resolved_share": (0.9, True)}
_LABELS = {"hotline_reports_classified_share": "stats.classified_share",
           "resolved_share": "stats.resolved_share"}


@dataclass(frozen=True)
class Bar:
    label: str
    value: str  # as shown
    length: float  # in SVG units, 0..WIDTH
    target: float | None  # the target's mark, in SVG units
    goal: str  # the target as shown ("100 %", "> 90 %")
    met: bool | None  # None: no figure (nothing to count in the period)


def share_bars(figures: dict[str, Any], lang: str) -> list[Bar]:
    out = []
    for key, (target, strictly) in TARGETS.items():
        share = figures[key]
        met = None if share is None else (share > target if strictly else share >= target)
        out.append(Bar(term(_LABELS[key]).text(lang),
                       "—" if share is None else f"{100 * share:.0f} %",
                       0.0 if share is None else WIDTH * share, WIDTH * target,
                       f"{'> ' if strictly else ''}{100 * target:.0f} %", met))
    return out


def count_bars(figures: dict[str, Any], lang: str) -> list[Bar]:
    by: Counter[str] = Counter()
    for row in figures["by_type_direction_state"]:
        by[row["type"]] += row["count"]
    top = max(by.values(), default=0)
    vi_zh = {slug: message_type_label(slug) for slug in by}
    return [Bar(vi_zh[slug][0 if lang == "vi" else 1], str(n), WIDTH * n / top, None, "", None)
            for slug, n in sorted(by.items())]
