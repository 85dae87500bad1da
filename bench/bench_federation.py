"""Twenty offices: the channel for every border province, each gateway its own process.

    python bench/bench_federation.py [--rate 100] [--seconds 10] [--fanout 3]

Starts 20 gateways on loopback (10 Vietnamese, 10 Chinese offices and posts; each its own
process and SQLite store; one directory of 20 offices co-signed by both roots). Every office
sends 2 KiB case notices to --fanout offices of the other country, every fourth message to two
of them at once, at --rate messages per second in all for --seconds. Reported: deliveries per
second from first submission to last verified receipt, latency percentiles (submission to
stored receipt, sender's clock), RSS per gateway, that every log is cosigned by an office of
the other country, and the time a new directory installed on one gateway takes to reach all
twenty (through the peers' pings). The raw crypto of one delivery is measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateways import crypto_floor_us, delivered, payload_2k
from fleet import Fleet, fleet

from gateway.cli.client import OfficerClient
from gateway.cli.provision import BORDER_OFFICES, OfficeSpec
from gateway.node.home import add_user
from gateway.protocol.scenario import LAOCAI


def offices() -> list[OfficeSpec]:
    """The twenty offices (``gateway.cli.provision.BORDER_OFFICES``)."""
    return list(BORDER_OFFICES)


def routes(f: Fleet, fanout: int) -> list[tuple[str, list[str]]]:
    """(sender, recipients) for one round over every office: --fanout foreign peers each,
    every fourth message to two of them."""
    vn = [o.office_id for o in f.specs if o.country == "VN"]
    cn = [o.office_id for o in f.specs if o.country == "CN"]
    out = []
    for mine, theirs in ((vn, cn), (cn, vn)):
        for i, office in enumerate(mine):
            for k in range(fanout):
                to = [theirs[(i + k) % len(theirs)]]
                if k % 4 == 3 or (k == 0 and i % 4 == 0):
                    to.append(theirs[(i + k + 1) % len(theirs)])
                out.append((office, to))
    return out


async def offer(f: Fleet, rate: float, seconds: float, fanout: int) -> int:
    plan = routes(f, fanout)
    body = payload_2k().to_dict()
    n = int(rate * seconds)
    start = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        async def one(i: int) -> int:
            office, to = plan[i % len(plan)]
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            async with s.post(f.api(office) + "/api/v1/messages", json={"to": to,
                              "payload": body},
                              headers={"Authorization": f"Bearer {f.tokens[office]}"}) as r:
                assert r.status == 201, await r.text()
            return len(to)
        return sum(await asyncio.gather(*(one(i) for i in range(n))))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for(what: str, check: object, timeout: float) -> float:
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fanout", type=int, default=3)
    a = ap.parse_args()
    admin: dict[str, str] = {}

    def prepare(office: str, home: Path) -> None:
        if office == LAOCAI:
            admin[office] = add_user(home, "benchadmin", "admin").read_text().strip()

    specs = offices()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="blo-federation-") as tmp, \
            fleet(tmp, specs, prepare=prepare, healthy_s=180, peer_rate=100000.0,
                  peer_burst=100000) as f:
        started = time.perf_counter() - t_start
        floor = crypto_floor_us(f.net)
        t0 = time.perf_counter()
        deliveries = asyncio.run(offer(f, a.rate, a.seconds, a.fanout))

        def all_delivered() -> bool:
            return sum(delivered(f.db(o))[0] for o in f.homes) >= deliveries
        wait_for("every receipt", all_delivered, 600)
        took = time.perf_counter() - t0
        lat = sorted(x for o in f.homes for x in delivered(f.db(o))[1])
        q = statistics.quantiles(lat, n=100)
        rss = sorted(rss_mib(f.pid(o)) for o in f.homes)
        print(f"federation: {len(f.homes)} gateways (each its own process, SQLite), "
              f"started in {started:.1f} s; {a.rate:.0f} msg/s offered for {a.seconds:.0f} s, "
              f"each office to {a.fanout} offices of the other country")
        print(f"  deliveries receipted {deliveries}: {deliveries / took:.0f}/s from first "
              f"submission to last verified receipt")
        print(f"  latency submission -> stored receipt: p50 {q[49]:.0f} ms  p90 {q[89]:.0f} ms  "
              f"p99 {q[98]:.0f} ms  max {lat[-1]} ms")
        print(f"  raw crypto per delivery {floor:.0f} us on one core: "
              f"{deliveries * floor / 1e6 / took * 100:.0f}% of one core spent on it")
        print(f"  RSS per gateway: min {rss[0]:.0f} MiB, median {statistics.median(rss):.0f} "
              f"MiB, max {rss[-1]:.0f} MiB")

        foreign = {o.office_id: {p.office_id for p in specs if p.country != o.country}
                   for o in specs}

        def witnessed() -> bool:
            for office in f.homes:
                h = f.client(office).health()
                if not any(info.get("cosigned_our_log_to", 0) > 0
                           for peer, info in h["peers"].items() if peer in foreign[office]):
                    return False
            return True
        w = wait_for("every log cosigned by the other country", witnessed, 300)
        print(f"  every log cosigned by an office of the other country ({w:.1f} s after the "
              "last receipt)")

        serial = f.net.directory().serial + 1
        signed = f.next_directory(serial)
        t1 = time.monotonic()
        OfficerClient(f.api(LAOCAI), admin[LAOCAI]).install_directory(signed)

        def everywhere() -> bool:
            return all(f.client(o).health()["directory_serial"] == serial for o in f.homes)
        wait_for("the new directory on every gateway", everywhere, 300)
        print(f"  directory serial {serial} installed on one gateway reached all "
              f"{len(f.homes)} in {time.monotonic() - t1:.1f} s")


if __name__ == "__main__":
    main()
