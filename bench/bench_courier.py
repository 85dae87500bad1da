"""The courier round trip: N envelopes carried by bundle file while the link is cut.

    python bench/bench_courier.py [--messages 1000] [--pg postgresql://...]

Starts the Lào Cai and Hekou gateways as separate processes (fresh keys, SQLite unless
--pg) with the peer link pointing nowhere, submits --messages 2 KiB messages at Lào Cai (the
payload of bench_gateways.py), then times each leg through the officer API, as
``blo-gateway courier`` calls it: (1) Lào Cai exports the bundle for Hekou, (2) Hekou
imports it (every envelope verified and stored, a receipt signed for each), (3) Hekou
exports the return bundle (the receipts), (4) Lào Cai imports it (every message marked
delivered). It checks that every message is delivered and Hekou holds each once, and prints
the bundle sizes, each leg, the round trip and the import rate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_gateways import submit_all  # noqa: E402 - after the path is set

from gateway.cli.client import OfficerClient  # noqa: E402
from gateway.cli.demo import free_port  # noqa: E402
from gateway.node.home import add_user  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI  # noqa: E402
from tools.chaos import Cluster, inbox_ids  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--pg", default="", help="PostgreSQL DSN (one schema per gateway)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="blo-bench-courier-") as tmp:
        nowhere = f"http://127.0.0.1:{free_port()}"
        cluster = Cluster(Path(tmp), (LAOCAI, HEKOU), a.pg,
                          peer_urls={LAOCAI: {HEKOU: nowhere}, HEKOU: {LAOCAI: nowhere}})
        admin: dict[str, OfficerClient] = {}
        try:
            for office in (LAOCAI, HEKOU):
                add_user(cluster.procs[office].home, "admin", "admin")
                admin[office] = OfficerClient.for_home(cluster.procs[office].home, "admin")
                admin[office].timeout = 900
                cluster.start(office)
            lc = cluster.clients[LAOCAI]
            t0 = time.perf_counter()
            asyncio.run(submit_all(lc.base_url, lc.token, a.messages, 32))
            t_submit = time.perf_counter() - t0

            legs: list[tuple[str, float, str]] = []

            def leg(name: str, fn: Any, note: Any) -> Any:
                t = time.perf_counter()
                out = fn()
                legs.append((name, time.perf_counter() - t, note(out)))
                return out

            bundle, s1 = leg("export at Lào Cai", lambda: admin[LAOCAI].courier_export(HEKOU),
                             lambda r: f"{r[1]['envelopes']} envelopes, {len(r[0])} bytes")
            r2 = leg("import at Hekou", lambda: admin[HEKOU].courier_import(bundle),
                     lambda r: f"{r['envelopes']['accepted']} new")
            back, s3 = leg("return export at Hekou",
                           lambda: admin[HEKOU].courier_export(LAOCAI),
                           lambda r: f"{r[1]['receipts']} receipts, {len(r[0])} bytes")
            r4 = leg("import at Lào Cai", lambda: admin[LAOCAI].courier_import(back),
                     lambda r: f"{r['receipts']['delivered']} delivered")
            n = a.messages
            held = inbox_ids(cluster.procs[HEKOU].home)
            states = {m["states"][HEKOU] for m in lc.sent(1000)}
            for ok, what in ((s1["envelopes"] == n, "exported"),
                             (r2["envelopes"]["accepted"] == n, "imported"),
                             (s3["receipts"] == n, "receipts returned"),
                             (r4["receipts"]["delivered"] == n, "marked delivered"),
                             (len(held) == len(set(held)) == n, "held once each"),
                             (states == {"delivered"}, "all delivered")):
                if not ok:
                    raise SystemExit(f"FAILED: not every message {what}")
        finally:
            cluster.close()
    backend = "PostgreSQL" if a.pg else "SQLite"
    print(f"courier round trip, {a.messages} messages of 2 KiB, {backend}, two gateway "
          f"processes (submitting them took {t_submit:.1f} s)")
    for name, secs, note in legs:
        print(f"  {name:<24} {secs:7.2f} s   {note}")
    total = sum(s for _, s, _ in legs)
    imp = legs[1][1]
    print(f"  {'round trip':<24} {total:7.2f} s   import {a.messages / imp:.0f} envelopes/s; "
          "0 lost, 0 duplicated, every message delivered")


if __name__ == "__main__":
    main()
