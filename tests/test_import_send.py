"""blo-import sending for real: the command as its own process, through the officer API of
Lào Cai's gateway (a ``blo-gateway serve`` process, tools/chaos.py's Cluster) to Hekou's,
on SQLite and PostgreSQL. A file imported twice sends once; a file with a bad row sends
nothing unless --send-good-rows; and the canary name of the import files is, afterwards, in
no file of either gateway's home (database, logs, keys) nor in any PostgreSQL table."""

from __future__ import annotations

import csv
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from harness import BACKENDS, PG_DSN, load_script

from gateway.protocol.scenario import HEKOU, LAOCAI

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "adapters" / "examples"
chaos = load_script(ROOT / "tools" / "chaos.py", "blo_chaos_tool")
bench = load_script(ROOT / "bench" / "bench_import.py", "blo_bench_import")


@pytest.fixture(params=BACKENDS)
def cluster(request, tmp_path):
    c = chaos.Cluster(tmp_path / "gw", (LAOCAI, HEKOU),
                      PG_DSN if request.param == "postgres" else "")
    try:
        for office in (LAOCAI, HEKOU):
            c.start(office)
        yield c
    finally:
        c.close()


def blo_import(cluster, *args: object) -> tuple[int, dict, str]:
    """``python -m adapters ARGS --json`` as Lào Cai's officer, with its own empty TMPDIR;
    (exit status, report, all it printed)."""
    tmp = cluster.root.parent / "import-tmp"
    tmp.mkdir(exist_ok=True)
    r = subprocess.run(
        [sys.executable, "-m", "adapters", *map(str, args), "--to", HEKOU, "--json",
         "--home", str(cluster.procs[LAOCAI].home), "--user", "officer"],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
        env={**os.environ, "TMPDIR": str(tmp)})
    assert list(tmp.iterdir()) == []  # nothing of the file copied aside
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stdout + r.stderr


def sent_count(cluster) -> int:
    return len(cluster.clients[LAOCAI].sent(limit=1000))


def hekou_holds(cluster, n: int) -> None:
    chaos.wait_until(lambda: len(chaos.inbox_ids(cluster.procs[HEKOU].home)) >= n, 120,
                     f"Hekou holding {n} messages")


def with_canary(src: Path, dst: Path, canary: str, columns: tuple[str, ...]) -> Path:
    rows = list(csv.reader(src.read_text(encoding="utf-8").splitlines()))
    for r in rows[1:]:
        for col in columns:
            i = rows[0].index(col)
            r[i] = f"{r[i]} {canary}"
    with dst.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return dst


def test_imports_send_once_hold_bad_files_and_leave_no_name_in_clear(cluster, tmp_path):
    canary = f"CANARY{secrets.token_hex(8).upper()}"
    files = tmp_path / "files"
    files.mkdir()
    calls = bench.make_hotline_csv(files / "calls.csv", 20, canary)

    # A dry run reaches no gateway.
    code, plan, _ = blo_import(cluster, "hotline", calls, "--dry-run")
    assert code == 0 and len(plan["items"]) == 20 and sent_count(cluster) == 0

    code, report, printed = blo_import(cluster, "hotline", calls)
    assert code == 0, printed
    first = [s["message_id"] for s in report["sent"]]
    assert len(set(first)) == 20 and not any(s["replayed"] for s in report["sent"])
    assert canary not in printed  # the report names rows, keys and message ids only
    hekou_holds(cluster, 20)
    opened = cluster.clients[HEKOU].show(first[0], "vi")
    assert opened["type"] == "hotline_report"
    assert canary in opened["payload"]["body"]["subject"]["name"]["full_name"]
    assert "Tin báo đường dây nóng" in opened["text"]

    # The same file again: every row answered with its first message, nothing new.
    code, report, _ = blo_import(cluster, "hotline", calls, "--workers", "2")
    assert code == 0 and all(s["replayed"] for s in report["sent"])
    assert [s["message_id"] for s in report["sent"]] == first
    assert sent_count(cluster) == 20

    # A row changed since (same call id): refused under its key, reported, not re-sent.
    rows = list(csv.reader(calls.read_text(encoding="utf-8").splitlines()))
    rows[5][rows[0].index("Nội dung tin báo")] += " (sửa)"
    changed = files / "changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    code, report, _ = blo_import(cluster, "hotline", changed)
    assert code == 1
    assert [s["code"] for s in report["sent"] if s["code"]] == ["IDEMPOTENCY_KEY_REUSED"]
    assert report["sent"][4]["code"] == "IDEMPOTENCY_KEY_REUSED"  # file row 6
    assert sent_count(cluster) == 20

    # A file with a bad row sends nothing; with --send-good-rows, the good rows.
    bad = with_canary(EXAMPLES / "hotline.csv", files / "bad.csv", canary,
                      ("Họ tên người được báo tin",))
    rows = list(csv.reader(bad.read_text(encoding="utf-8").splitlines()))
    rows[1][rows[0].index("Thời điểm tiếp nhận")] = "2026-03-02 09:40"
    with bad.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    code, report, printed = blo_import(cluster, "hotline", bad, "--lang", "vi")
    assert code == 1 and "BAD_IMPORT_ROWS" in printed and "không gửi gì" in printed
    assert "sent" not in report and sent_count(cluster) == 20
    assert [(p["row"], p["code"]) for p in report["problems"]] == [(2, "NO_TIME_ZONE")]
    code, report, printed = blo_import(cluster, "hotline", bad, "--send-good-rows")
    assert code == 1 and "BAD_IMPORT_ROWS" in printed
    assert [s["rows"] for s in report["sent"]] == [[3], [4]]
    assert all(s["message_id"] and not s["replayed"] for s in report["sent"])
    assert sent_count(cluster) == 22

    # The Border Guard's roster, as XLSX: one notice per handover, sent once.
    roster_csv = with_canary(EXAMPLES / "roster.csv", files / "roster.csv", canary,
                             ("Họ và tên",))
    book = openpyxl.Workbook()
    for r in csv.reader(roster_csv.read_text(encoding="utf-8").splitlines()):
        book.active.append(r)
    book.save(files / "roster.xlsx")
    code, report, printed = blo_import(cluster, "roster", files / "roster.xlsx")
    assert code == 0, printed
    notices = [s["message_id"] for s in report["sent"]]
    assert [s["rows"] for s in report["sent"]] == [[2, 3, 4], [5]]
    hekou_holds(cluster, 24)
    body = cluster.clients[HEKOU].show(notices[0], "zh")["payload"]["body"]
    persons = body["persons"]
    assert len(persons) == 3 and persons[2]["is_minor"]
    assert persons[2]["person"]["relatives"][0]["name"] == persons[1]["person"]["name"]
    code, report, _ = blo_import(cluster, "roster", files / "roster.xlsx")
    assert code == 0 and [s["message_id"] for s in report["sent"]] == notices
    assert all(s["replayed"] for s in report["sent"])
    assert sent_count(cluster) == 24

    # The canary: in the import files (the scan finds it there), nowhere in the gateways.
    for office in (LAOCAI, HEKOU):
        cluster.procs[office].stop()
    assert sorted(p.name for p in files.iterdir()) == [
        "bad.csv", "calls.csv", "changed.csv", "roster.csv", "roster.xlsx"]
    assert len(chaos.canary_places([files], canary, tmp_path)) >= 4  # the CSVs (XLSX: zipped)
    homes = [cluster.procs[o].home for o in (LAOCAI, HEKOU)]
    assert chaos.canary_places(homes, canary, tmp_path) == []
    # The scan sees the stores: the roster's case reference travels in the envelope header,
    # in clear by design (metadata), and is found in both gateways' databases.
    seen = chaos.canary_places(homes, "LC-2026-0045", cluster.root)
    assert {p.split("/")[0].split(":")[0] for p in seen} == {LAOCAI, HEKOU}, seen
