"""Twenty offices: the channel for every border province, each gateway its own process.

    python bench/bench_federation.py [--rate 100] [--seconds 10] [--fanout 3]

Starts 20 gateways on loopback (10 Vietnamese, 10 Chinese offices and posts; each its own
process and SQLite store; one directory of 20 offices co-signed by both roots). Every office
sends 2 KiB case notices to --fanout offices of the other country, every fourth message to two
of them at once, at --rate messages per second in all for --seconds. Reported: deliveries per
second from first submission to last verified receipt, latency percentiles (submission to
stored receipt, sender's clock), RSS per gateway, that every log is cosigned by an office of
the other country, that every office's statistics count what was sent and delivered, that the
courier carries messages to an office that cannot be reached and its receipts back, and the
time a new directory installed on one gateway takes to reach all twenty (through the peers'
pings). The raw crypto of one delivery is measured in the same run. The offices are
``gateway.cli.provision.BORDER_OFFICES``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateways import crypto_floor_us, delivered, payload_2k
from fleet import Fleet, fleet

from gateway.cli.client import OfficerClient
from gateway.cli.demo import free_port
from gateway.cli.provision import BORDER_OFFICES, OfficeSpec
from gateway.node.config import load_config, render_config
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


def statistics_check(f: Fleet, messages: int, deliveries: int) -> str:
    """Every office's statistics (``/api/v1/stats``, a day either side of today, in its own
    zone): the items counted as sent must be the messages (one item for a message to two
    offices), those counted as received the deliveries. Returns the line to print; raises
    if a figure is wrong."""
    today = datetime.date.today()
    span = ((today - datetime.timedelta(days=1)).isoformat(),
            (today + datetime.timedelta(days=2)).isoformat())
    counts = {"sent": 0, "received": 0}
    t0 = time.perf_counter()
    for office in f.homes:
        figures = f.client(office).stats(*span)
        for row in figures["by_type_direction_state"]:
            counts[row["direction"]] += row["count"]
    took = time.perf_counter() - t0
    if counts != {"sent": messages, "received": deliveries}:
        raise AssertionError(f"statistics count {counts}: {messages} messages were sent, "
                             f"{deliveries} delivered")
    return (f"statistics of all {len(f.homes)} offices: {counts['sent']} items sent (the "
            f"messages), {counts['received']} received (the deliveries); "
            f"{took * 1000 / len(f.homes):.0f} ms per office")


def courier_check(f: Fleet, admin: dict[str, str]) -> str:
    """The courier at this size: one Chinese office cannot be reached (its peer API moved
    off the address the directory gives); three Vietnamese offices write to it twice each,
    and their bundles are carried to it; its receipts are carried back. Returns the line to
    print; raises if anything is not delivered."""
    off = "cn.guangxi.ningming.blo"
    senders = [LAOCAI, "vn.hagiang.blo", "vn.langson.bdbp.huunghi"]
    home = f.homes[off]
    listed = load_config(home)

    def restart(peer_port: int) -> None:
        f.procs[off].stop()
        (home / "gateway.toml").write_text(
            render_config(dataclasses.replace(listed, peer_port=peer_port)), encoding="utf-8")
        f.procs[off].start()
        f.procs[off].wait_healthy(f.client(off), timeout=120)

    restart(free_port())
    before = {s: delivered(f.db(s))[0] for s in senders}
    for s in senders:
        for _ in range(2):
            f.client(s).send([off], payload_2k().to_dict())
    t0 = time.perf_counter()
    carried = [OfficerClient(f.api(s), admin[s]).courier_export(off) for s in senders]
    there = OfficerClient(f.api(off), admin[off])
    accepted = sum(there.courier_import(b)["envelopes"]["accepted"] for b, _ in carried)
    receipts = 0
    for s in senders:
        bundle, _ = there.courier_export(s)
        receipts += OfficerClient(f.api(s), admin[s]).courier_import(bundle)["receipts"][
            "delivered"]
    wait_for("the couriered messages delivered",
             lambda: all(delivered(f.db(s))[0] >= before[s] + 2 for s in senders), 120)
    took = time.perf_counter() - t0
    restart(listed.peer_port)  # back on the network, for what follows
    if accepted != 2 * len(senders) or receipts != 2 * len(senders):
        raise AssertionError(f"courier: {accepted} accepted, {receipts} receipts carried back")
    return (f"courier: {sum(len(b) for b, _ in carried) / 1024:.0f} KiB in "
            f"{len(carried)} bundles to {off}, unreachable: {accepted} of "
            f"{2 * len(senders)} messages accepted from them, {receipts} receipts carried "
            f"back, all delivered {took:.1f} s after the first export")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fanout", type=int, default=3)
    a = ap.parse_args()
    run(a.rate, a.seconds, a.fanout)


def run(rate: float, seconds: float, fanout: int = 3) -> dict[str, Any]:
    """Everything the module docstring says, printed; returns the figures and the check
    lines (for ``bench/report.py``)."""
    admin: dict[str, str] = {}

    def prepare(office: str, home: Path) -> None:
        admin[office] = add_user(home, "benchadmin", "admin").read_text().strip()

    specs = offices()
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="blo-federation-") as tmp, \
            fleet(tmp, specs, prepare=prepare, healthy_s=180, peer_rate=100000.0,
                  peer_burst=100000) as f:
        started = time.perf_counter() - t_start
        floor = crypto_floor_us(f.net)
        t0 = time.perf_counter()
        deliveries = asyncio.run(offer(f, rate, seconds, fanout))

        def all_delivered() -> bool:
            return sum(delivered(f.db(o))[0] for o in f.homes) >= deliveries
        wait_for("every receipt", all_delivered, 600)
        took = time.perf_counter() - t0
        lat = sorted(x for o in f.homes for x in delivered(f.db(o))[1])
        q = statistics.quantiles(lat, n=100)
        rss = sorted(rss_mib(f.pid(o)) for o in f.homes)
        out: dict[str, Any] = {
            "gateways": len(f.homes), "started_s": started, "rate": rate, "seconds": seconds,
            "fanout": fanout, "deliveries": deliveries, "per_s": deliveries / took,
            "p50_ms": q[49], "p90_ms": q[89], "p99_ms": q[98], "max_ms": float(lat[-1]),
            "floor_us": floor, "rss_min": rss[0], "rss_median": statistics.median(rss),
            "rss_max": rss[-1]}
        print(f"federation: {len(f.homes)} gateways (each its own process, SQLite), "
              f"started in {started:.1f} s; {rate:.0f} msg/s offered for {seconds:.0f} s, "
              f"each office to {fanout} offices of the other country")
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
        out["witnessed_s"] = wait_for("every log cosigned by the other country", witnessed, 300)
        out["checks"] = [f"every log cosigned by an office of the other country "
                         f"({out['witnessed_s']:.1f} s after the last receipt)",
                         statistics_check(f, int(rate * seconds), deliveries),
                         courier_check(f, admin)]
        for line in out["checks"]:
            print("  " + line)

        serial = f.net.directory().serial + 1
        signed = f.next_directory(serial)
        t1 = time.monotonic()
        OfficerClient(f.api(LAOCAI), admin[LAOCAI]).install_directory(signed)

        def everywhere() -> bool:
            return all(f.client(o).health()["directory_serial"] == serial for o in f.homes)
        wait_for("the new directory on every gateway", everywhere, 300)
        out["directory_s"] = time.monotonic() - t1
        print(f"  directory serial {serial} installed on one gateway reached all "
              f"{len(f.homes)} in {out['directory_s']:.1f} s")
    return out


if __name__ == "__main__":
    main()
