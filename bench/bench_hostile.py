"""A real peer's deliveries while a forger floods the peer port (two gateways, SQLite).

    python bench/bench_hostile.py [--rate 100] [--seconds 10] [--flooders 1]

Starts the Lào Cai and Hekou gateways as separate processes. Lào Cai's officers offer
--rate messages per second for --seconds, first on a quiet link, then while
--flooders processes send forged traffic to Hekou's peer port from 127.0.0.2 as fast
as they can: unsigned pings claiming to be Lào Cai, requests with well-formed but
forged signature headers (each costs Hekou a signature check), unauthenticated 1 MiB
bodies and 16 MiB Content-Lengths. Prints, for both phases, the delivered rate and
p50/p99 from submission to verified receipt, the ratio flood/quiet, the forged
requests sent and how Hekou answered them, and Hekou's RSS before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gateways import delivered, offer, wait_delivered
from fleet import fleet

from gateway.protocol.scenario import HEKOU, LAOCAI


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _flood(url: str, key_id: str, seconds: float, counts: Counter[str]) -> None:
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=64,
                                     force_close=False)
    forged = {"BLO-Origin": LAOCAI, "BLO-Destination": HEKOU, "BLO-Key-Id": key_id,
              "BLO-Nonce": "0" * 32, "BLO-Signature": "A" * 86 + "==",
              "BLO-Body-SHA256": "0" * 64}
    kinds = [("GET", "/peer/v1/ping", {"BLO-Origin": LAOCAI}, b""),
             ("POST", "/peer/v1/envelopes", forged, b""),
             ("POST", "/peer/v1/envelopes", {"BLO-Origin": LAOCAI}, b"\0" * (1 << 20)),
             ("POST", "/peer/v1/envelopes",
              {"BLO-Origin": LAOCAI, "Content-Length": str(16 << 20)}, None)]
    async with aiohttp.ClientSession(connector=connector) as s:
        async def worker(i: int) -> None:
            n = i
            while time.monotonic() < deadline:
                method, path, headers, body = kinds[n % len(kinds)]
                n += 1
                h = dict(headers)
                if "BLO-Timestamp" not in h:
                    h["BLO-Timestamp"] = str(int(time.time() * 1000))
                try:
                    if body is None:  # a head announcing 16 MiB, then nothing
                        async with s.request(method, url + path, headers=h,
                                             data=b"") as r:
                            counts[f"answered {r.status}"] += 1
                    else:
                        async with s.request(method, url + path, headers=h, data=body) as r:
                            counts[f"answered {r.status}"] += 1
                except (TimeoutError, aiohttp.ClientError, OSError):
                    counts["connection refused/closed"] += 1
                counts["sent"] += 1
        await asyncio.gather(*(worker(i) for i in range(48)))


def flooder(url: str, key_id: str, seconds: float, q: mp.Queue) -> None:  # type: ignore[type-arg]
    counts: Counter[str] = Counter()
    asyncio.run(_flood(url, key_id, seconds, counts))
    q.put(dict(counts))


def phase(base: str, token: str, db: Path, rate: float,
          seconds: float) -> tuple[float, list[int]]:
    before, _ = delivered(db)
    t0 = time.perf_counter()
    n = asyncio.run(offer(base, token, rate, seconds))
    t_end = wait_delivered(db, before + n)
    _, lat = delivered(db)
    return n / (t_end - t0), sorted(lat[before:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--flooders", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="blo-hostile-") as tmp, \
            fleet(tmp, [LAOCAI, HEKOU]) as fl:
        net, ports, tokens = fl.net, fl.ports, fl.tokens
        hekou_pid = fl.pid(HEKOU)
        base, db = fl.api(LAOCAI), fl.db(LAOCAI)
        key_id = net.keyrings[LAOCAI].keys[0].key_id
        phase(base, tokens[LAOCAI], db, a.rate, 2)  # warm-up
        rss0 = rss_mib(hekou_pid)
        quiet_rate, quiet = phase(base, tokens[LAOCAI], db, a.rate, a.seconds)
        q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        floods = [mp.Process(target=flooder, args=(
            f"http://127.0.0.1:{ports[HEKOU][0]}", key_id, a.seconds + 4, q))
            for _ in range(a.flooders)]
        for f in floods:
            f.start()
        time.sleep(2)  # the flood is at full speed before the measurement starts
        flood_rate, flooded = phase(base, tokens[LAOCAI], db, a.rate, a.seconds)
        counts: Counter[str] = Counter()
        for f in floods:
            counts.update(q.get(timeout=120))
            f.join()
        rss1 = rss_mib(hekou_pid)
        log = (Path(tmp) / HEKOU / "gateway.log").stat().st_size
    cpus = os.cpu_count()
    print(f"hostile traffic: {a.rate:.0f} msg/s of 2 KiB offered for {a.seconds:.0f} s by Lào Cai "
          f"to Hekou; {a.flooders} flooder process(es) from 127.0.0.2; {cpus} cores shared")

    def row(name: str, rate: float, lat: list[int]) -> str:
        q = statistics.quantiles(lat, n=100)
        return (f"  {name:<12} delivered {rate:7.1f} msg/s   p50 {q[49]:5.0f} ms   "
                f"p99 {q[98]:6.0f} ms   max {lat[-1]:6d} ms")
    print(row("quiet", quiet_rate, quiet))
    print(row("under flood", flood_rate, flooded))
    p99 = [statistics.quantiles(x, n=100)[98] for x in (quiet, flooded)]
    print(f"  ratio flood/quiet: rate {flood_rate / quiet_rate:.2f}, p99 {p99[1] / p99[0]:.1f}x")
    sent = counts.pop("sent", 0)
    print(f"  forged requests sent {sent} ({sent / (a.seconds + 4):.0f}/s); answers: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"  Hekou RSS before {rss0:.0f} MiB, after {rss1:.0f} MiB; "
          f"gateway.log {log / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
