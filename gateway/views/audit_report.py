"""The offline verifier's verdict as text a person reads, in vi, zh or both.

The verifier (``gateway.audit.verify``) finds; this view words what it found, labelled
from the glossary, so that the audit layer stays free of presentation.
"""

from __future__ import annotations

from gateway.audit.leaves import EVENT_TYPES
from gateway.audit.verify import NOT_CHECKED, Report
from gateway.protocol.glossary import term
from gateway.views.render import Row, format_rows

__all__ = ["render_report"]


def render_report(report: Report, lang: str) -> str:
    """The verdict as text in vi, zh or both, labelled from the glossary."""
    def lab(key: str) -> tuple[str, str]:
        t = term(key)
        return t.vi, t.zh

    rows: list[Row] = []
    for log in report.logs:
        rows.append(Row(0, log["office"], log["office"], log["bundle"], log["bundle"]))
        for key, value in (("audit.leaves", log["entries"]),
                           ("audit.checkpoints", log["checkpoints"]),
                           ("audit.export_size", log["export_size"]),
                           ("audit.cosigned_by_peer", log["cosignatures"]),
                           ("audit.witnessed_to", log["witnessed_to"]),
                           ("audit.reads", log["reads"])):
            rows.append(Row(1, *lab(key), str(value), str(value)))
        for w in log["witnessed_by"]:
            text = f"{w['office']} ({w['key_id']}) {w['at']}"
            rows.append(Row(2, *lab("audit.witnessed_by"), text, text))
        if "live" in log:
            text = f"{log['live']['size']} ({', '.join(log['live']['cosigned_by'])})"
            rows.append(Row(1, *lab("audit.live_size"), text, text))
        for etype, n in log["events"].items():
            t = EVENT_TYPES.get(etype)
            vi, zh = lab(t) if t else (etype, etype)
            rows.append(Row(2, vi, zh, str(n), str(n)))
    for key, n in report.matching.items():
        route, _, what = key.rpartition(" ")
        label = {"matched": "audit.matched", "pending": "audit.unmatched"}.get(what)
        vi, zh = lab(label) if label else (what, what)
        rows.append(Row(0, f"{route}: {vi}", f"{route}：{zh}", str(n), str(n)))
    for what in report.not_checked:
        rows.append(Row(0, *lab("audit.not_checked"), NOT_CHECKED[what], NOT_CHECKED[what]))
    verdict = lab("audit.result_ok" if report.ok else "audit.result_bad")
    rows.append(Row(0, *verdict))
    rows.extend(Row(1, f"{f.code}: {(type(f).__doc__ or '').strip()}",
                    f"{f.code}: {(type(f).__doc__ or '').strip()}", f.message, f.message)
                for f in report.findings)
    key = {0: "audit.verdict_pass", 1: "audit.verdict_tampered", 2: "audit.verdict_policy",
           3: "audit.verdict_unverifiable"}[report.exit_code]
    vi, zh = lab(key)
    word = "PASS" if report.ok else "FAIL"
    final = {"vi": vi, "zh": zh}.get(lang, f"{vi} / {zh}")
    return (format_rows(rows, lang, title=lab("audit.report_title"))
            + f"{word} (exit {report.exit_code}): {final}\n")
