"""blo-import on a large call log: the dry-run's rate and the real import's through one gateway.

    python bench/bench_import.py [--rows 50000] [--workers 16] [--pg DSN] [--skip-send]

Writes a hotline call log of ``--rows`` invented calls (CSV, Vietnamese column names, one
call per row, each with its own call id) into a temporary folder, then runs the real
command, ``python -m adapters hotline FILE`` (the ``blo-import`` console script), and
times it:

1. ``--dry-run`` (read, check every cell, build every payload, print the bilingual
   preview to /dev/null): rows per second, start-up of the interpreter included;
2. the import through one gateway (Lào Cai and Hekou as ``blo-gateway serve`` processes,
   SQLite unless ``--pg``; ``--workers`` messages in flight): rows per second from the
   command's start to its exit, every row accepted (stored, queued for Hekou); then the
   time until Hekou holds every message;
3. the same import again: every row answered as already sent (its Idempotency-Key), none
   sent twice (Hekou's inbox is counted before and after).

``make_hotline_csv`` is also what tests/test_import.py uses, with a few hundred rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["Mã cuộc gọi", "Thời điểm tiếp nhận", "Kênh tiếp nhận", "Phân loại tin báo",
          "Mức độ khẩn", "Họ tên người báo tin", "Số điện thoại người báo tin",
          "Quan hệ của người báo tin với người được báo tin", "Họ tên người được báo tin",
          "Giới tính", "Tuổi ước tính", "Dân tộc", "Địa điểm", "Nội dung tin báo"]
FAMILY = ["Giàng", "Sùng", "Vàng", "Lý", "Lò", "Hoàng", "Thào", "Mã", "Tẩn", "Chảo"]
GIVEN_F = ["Mai", "Dợ", "Ly", "Say", "Súa", "Xuân", "Hoa", "Mỷ", "Pàng", "Chu"]
GIVEN_M = ["Páo", "Chứ", "Dính", "Sử", "Seo", "Chư", "Lử", "Phừ", "Quáng", "Giàng"]
CLASSES = ["Nghi mua bán người", "Người mất tích", "Xuất nhập cảnh trái phép", ""]
CHANNELS = ["Đường dây nóng Công an tỉnh", "Tổng đài quốc gia 111", "Mạng xã hội"]
ETHNIC = ["H'Mông", "Dao", "Tày", "Giáy", "Hà Nhì", "Kinh"]
RELS = ["Mẹ", "Bố", "Anh chị em ruột", "Vợ/chồng", ""]
VN = timezone(timedelta(hours=7))
START = datetime(2026, 1, 1, tzinfo=VN)


def make_hotline_csv(path: Path, rows: int, canary: str = "") -> Path:
    """A call log of ``rows`` invented calls (``canary`` inside every subject's name and
    facts, if given); every row good, every call id and time distinct."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            female = i % 3 != 1
            given = (GIVEN_F if female else GIVEN_M)[i // 7 % 10]
            subject = f"{FAMILY[i % 10]} {'Thị' if female else 'Văn'} {given}"
            if canary:
                subject += f" {canary}"
            t = START + timedelta(seconds=97 * i)
            w.writerow([
                f"DT-2026-{i:06d}", t.strftime("%Y-%m-%d %H:%M:%S +07:00"),
                CHANNELS[i % 3], CLASSES[i % 4], "Khẩn" if i % 5 == 0 else "Thường",
                f"{FAMILY[(i + 3) % 10]} Văn {GIVEN_M[i % 10]}", f"+84 900 {i:06d}",
                RELS[i % 5], subject, "Nữ" if female else "Nam", str(14 + i % 30),
                ETHNIC[i % 6], f"thôn {i % 97} (invented), tỉnh Lào Cai",
                f"Người nhà báo {subject} đi cùng người quen qua mạng, hứa việc làm bên kia "
                f"biên giới; mất liên lạc {1 + i % 30} ngày (cuộc gọi {i}).",
            ])
    return path


def _run(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "adapters", *args], capture_output=True,
                       text=True, check=False, cwd=ROOT)
    return time.perf_counter() - t0, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--pg", default="", help="PostgreSQL DSN for the gateways' stores")
    ap.add_argument("--skip-send", action="store_true", help="the dry-run only")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tools"))
    import chaos  # type: ignore[import-not-found]

    from gateway.protocol.scenario import HEKOU, LAOCAI

    with tempfile.TemporaryDirectory(prefix="blo-bench-import-") as tmp:
        path = make_hotline_csv(Path(tmp) / "calls.csv", a.rows)
        size = path.stat().st_size
        print(f"call log: {a.rows} rows, {size / 1e6:.1f} MB CSV "
              f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        secs, r = _run(["hotline", str(path), "--to", HEKOU, "--dry-run"])
        assert r.returncode == 0, r.stderr[-2000:]
        print(f"  dry-run (check + build + bilingual preview)  {a.rows / secs:8.0f} rows/s "
              f"({secs:.1f} s, {len(r.stdout) / 1e6:.0f} MB of preview)")
        if a.skip_send:
            return
        cluster = chaos.Cluster(Path(tmp) / "gw", (LAOCAI, HEKOU), a.pg)
        try:
            for office in (LAOCAI, HEKOU):
                cluster.start(office)
            home = cluster.procs[LAOCAI].home
            send = ["hotline", str(path), "--to", HEKOU, "--home", str(home), "--user",
                    "officer", "--workers", str(a.workers), "--json"]
            secs, r = _run(send)
            assert r.returncode == 0, r.stderr[-2000:]
            sent = json.loads(r.stdout)["sent"]
            assert len(sent) == a.rows
            assert not any(s["replayed"] for s in sent)
            print(f"  import through one gateway ({a.workers} in flight, "
                  f"{'PostgreSQL' if a.pg else 'SQLite'})  {a.rows / secs:8.0f} rows/s "
                  f"({secs:.1f} s, every row accepted and queued)")
            t0 = time.perf_counter()
            chaos.wait_until(
                lambda: len(chaos.inbox_ids(cluster.procs[HEKOU].home)) >= a.rows,
                3600, "Hekou holding every report")
            print(f"  ... Hekou holds all {a.rows} reports "
                  f"{time.perf_counter() - t0:.1f} s after the import ended")
            secs, r = _run(send)
            again = json.loads(r.stdout)["sent"]
            assert r.returncode == 0
            assert all(s["replayed"] for s in again)
            assert [s["message_id"] for s in again] == [s["message_id"] for s in sent]
            time.sleep(2)
            held = len(chaos.inbox_ids(cluster.procs[HEKOU].home))
            print(f"  the same file again: {a.rows / secs:8.0f} rows/s, 0 sent twice "
                  f"(Hekou holds {held})")
            assert held == a.rows
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
