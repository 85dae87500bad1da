"""Cases: ``cases``, ``stats``, ``record`` and ``countersign`` through the officer API."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.protocol.errors import ConfigError
from gateway.protocol.localtime import local_time

if TYPE_CHECKING:
    pass
from gateway.cli._common import _client, _print_json, _zone_of

__all__ = ["cmd_cases", "cmd_countersign", "cmd_record", "cmd_stats"]


def cmd_cases(a: argparse.Namespace) -> int:
    query = "?overdue=1" if a.overdue else (f"?due_hours={a.due_hours}" if a.due_hours else "")
    data = _client(a).cases(query)
    if a.json:
        _print_json(data)
        return 0
    zone = _zone_of(data)
    for c in data["cases"]:
        flag = "OVERDUE" if c["overdue"] else ("waiting" if c["waiting"] else "")
        print(f"{c['id']}  {c['type']:<24} {c['case_reference'] or '-':<14} {c['state']:<16} "
              f"due {local_time(c['deadline_ms'], zone)}  {flag}")
    return 0


def cmd_record(a: argparse.Namespace) -> int:
    c = _client(a)
    if a.pdf:
        Path(a.pdf).write_bytes(c.raw(f"/api/v1/records/{a.message_id}/pdf"))
        print(f"handover record {a.message_id}: {a.pdf}")
        return 0
    data = c._call("GET", f"/api/v1/records/{a.message_id}?lang={a.lang}")
    if a.json:
        _print_json(data)
        return 0
    print(data["text"], end="")
    for office in data["parties"]:
        s = data["signatures"].get(office)
        state = ("signed, verified" if s and s["verified"] else
                 f"signature INVALID: {s['problem']}" if s else "not signed yet")
        print(f"  {office}: {state}" + (f" ({s['key_id']})" if s else ""))
    print("complete: signed by both sides" if data["complete"] else "incomplete")
    return 0


def cmd_countersign(a: argparse.Namespace) -> int:
    res = _client(a).countersign(a.message_id)  # keyed: a retried signature is sent once
    print(f"record {res['record']} signed; signature sent as {res['signature_message_id']}")
    return 0


def cmd_stats(a: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    from gateway.protocol.stats import stats_csv

    if a.period and (a.from_ or a.to):
        raise ConfigError("give --period, or --from and --to, not both")
    if not a.period and not (a.from_ and a.to):
        raise ConfigError("give --period (e.g. 2026-Q1, 2026-H1, 2026, 2026-03-31) or "
                          "--from and --to")
    query = urlencode({"period": a.period} if a.period else {"from": a.from_, "to": a.to})
    if a.pdf:
        Path(a.pdf).write_bytes(_client(a).raw(f"/api/v1/stats.pdf?{query}"))
        print(f"statistics {a.period or f'{a.from_} .. {a.to}'}: {a.pdf}")
        return 0
    data = _client(a)._call("GET", f"/api/v1/stats?{query}")
    if a.csv:
        print(stats_csv(data), end="")
    else:
        _print_json(data)
    return 0
