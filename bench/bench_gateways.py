"""End-to-end: two gateways on this machine, from submission to verified receipt.

    python bench/bench_gateways.py [--messages 3000] [--rate 200] [--seconds 10] [--pg DSN]
                                   [--suite 1|2]

Starts the Lào Cai and Hekou gateways as separate processes with fresh keys (SQLite, or
with ``--pg`` a PostgreSQL schema each in that database), then (1) submits --messages 2 KiB
messages through the officer API with 32 in flight and measures messages per second until
every receipt is stored and verified; (2) offers --rate messages per second for --seconds
and reports p50/p90/p99 latency from submission to stored receipt (sender's clock) and each
gateway's CPU per message at that rate, beside the time of one durable commit on the same
disk (the floor under the three commits in each message's path); (3) prints the bytes each
store holds per message, table by table. The raw crypto floor of one message (seal: sign +
X25519 + AEAD; open: verify; receipt: sign + verify) is measured in the same run and printed
with the ratio, both of wall-clock time per message and of the CPU time both gateway
processes used per message (on a loaded machine the CPU ratio is the steadier one), and the
lowest ratio the machine allows at that cost: all the CPU used per message (both gateways,
this bench's own client, with ``--pg`` the PostgreSQL server) spread over every core.
``--suite 2`` puts both offices on the post-quantum hybrid suite (docs/wire-format.md
§14-15); the floor is then suite 2's own crypto.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet import fleet, proc_cpu_s

from gateway.protocol import envelope
from gateway.protocol.messages import Payload, pb
from gateway.protocol.receipt import make_receipt, verify_receipt
from gateway.protocol.scenario import HEKOU, LAOCAI
from gateway.store import make_engine


def payload_2k() -> Payload:
    return Payload(pb.CaseNotice(
        context=pb.MessageContext(case_reference="BENCH", priority=1, handling_code=1),
        offence=pb.LocalizedText(vi="x" * 1024, zh="y" * 1000)))


def crypto_floor_us(net, n: int = 2000) -> float:
    """Wall-clock µs of the raw crypto of one message (see ``crypto_floor``)."""
    return crypto_floor(net, n)[0]


def crypto_floor(net, n: int = 2000) -> tuple[float, float]:
    """(wall-clock µs, CPU µs of this process) of the raw crypto of one message, on one core."""
    d = net.directory()
    p = payload_2k()
    now = int(time.time() * 1000)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        data = envelope.seal(p, sender=net.keyrings[LAOCAI], recipients=[HEKOU], directory=d,
                             now_ms=now)
        env = envelope.verify(data, d, now_ms=now)
        rec = make_receipt(net.keyrings[HEKOU], message_id=env.header.message_id,
                           sender=LAOCAI, envelope_sha256=env.sha256, received_at_ms=now,
                           suite=env.suite)
        verify_receipt(rec, d, receiver=HEKOU, message_id=env.header.message_id,
                       envelope_sha256=env.sha256, now_ms=now)
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6


def db_server_cpu(dsn: str) -> dict[int, float]:
    """CPU seconds used so far by each process of the PostgreSQL server that ``dsn`` reaches
    (its postmaster and the postmaster's children), by pid; processes that end meanwhile are
    not counted (an undercount: the gateways' own connections live as long as they do)."""
    engine = make_engine(dsn)
    try:
        with engine.connect() as c:
            backend = int(c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    finally:
        engine.dispose()
    status = Path(f"/proc/{backend}/status").read_text(encoding="ascii", errors="replace")
    postmaster = next(line.split()[1] for line in status.splitlines()
                      if line.startswith("PPid:"))
    out: dict[int, float] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = next(line.split()[1] for line in (d / "status").read_text(
                encoding="ascii", errors="replace").splitlines() if line.startswith("PPid:"))
            if postmaster in (d.name, ppid):
                out[int(d.name)] = proc_cpu_s(d.name)
        except (OSError, StopIteration, ValueError, IndexError):  # gone meanwhile
            continue
    return out


def db_server_cpu_since(dsn: str, before: dict[int, float]) -> float:
    """CPU seconds the server's processes used since ``before`` (those started since, whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in db_server_cpu(dsn).items())


def commit_floor_ms(folder: Path, n: int = 300) -> tuple[float, float]:
    """(p50, p99) ms of one durable commit of a 3 KB row on the disk of ``folder``, as the
    gateways' SQLite stores commit (WAL, ``synchronous=FULL``): the floor under each of the
    three commits between a submission and its stored receipt (sender, receiver, sender)."""
    path = folder / "commit-floor.db"
    c = sqlite3.connect(path, isolation_level=None)
    try:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        c.execute("CREATE TABLE t (x BLOB)")
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            c.execute("BEGIN")
            c.execute("INSERT INTO t VALUES (?)", (os.urandom(3000),))
            c.execute("COMMIT")
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        c.close()
    q = statistics.quantiles(times, n=100, method="inclusive")
    return q[49], q[98]


async def submit_all(base: str, token: str, n: int, concurrency: int) -> list[float]:
    body = {"to": [HEKOU], "payload": payload_2k().to_dict()}
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as s:
        async def one() -> None:
            async with sem, s.post(base + "/api/v1/messages", json=body,
                                   headers=headers) as r:
                assert r.status == 201, await r.text()
                times.append(time.perf_counter())
        await asyncio.gather(*(one() for _ in range(n)))
    return times


async def offer(base: str, token: str, rate: float, seconds: float) -> int:
    body = {"to": [HEKOU], "payload": payload_2k().to_dict()}
    headers = {"Authorization": f"Bearer {token}"}
    n = int(rate * seconds)
    start = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        async def one(i: int) -> None:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            async with s.post(base + "/api/v1/messages", json=body, headers=headers) as r:
                assert r.status == 201
        await asyncio.gather(*(one(i) for i in range(n)))
    return n


def delivered(db: sa.Engine | Path) -> tuple[int, list[int]]:
    """How many outbox rows are delivered, and each one's submission-to-receipt ms."""
    e = db if isinstance(db, sa.Engine) else sa.create_engine(f"sqlite:///{db}")
    with e.connect() as c:
        rows = c.execute(sa.text(
            "SELECT o.delivered_at_ms - e.created_at_ms FROM outbox o JOIN envelopes e "
            "ON e.id = o.envelope_id WHERE o.state = 'delivered' ORDER BY o.id")).all()
    if e is not db:
        e.dispose()
    return len(rows), [int(r[0]) for r in rows]


def wait_delivered(db: sa.Engine, n: int, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while True:
        got, _ = delivered(db)
        if got >= n:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {got} of {n} delivered")
        time.sleep(0.02)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pg", metavar="DSN", default="",
                    help="PostgreSQL (postgresql://...): a schema per gateway, dropped after")
    ap.add_argument("--suite", type=int, choices=(1, 2), default=1,
                    help="2: both offices on the post-quantum hybrid suite")
    ap.add_argument("--in-flight", type=int, default=2, metavar="N",
                    help="batches_in_flight of both gateways (delivery requests in flight to "
                         "a peer at once; default 2, as gateway.toml's default)")
    a = ap.parse_args()
    run(a.messages, [a.rate], a.seconds, a.pg, suite=a.suite, in_flight=a.in_flight)


def run(messages: int, rates: list[float], seconds: float, pg: str = "",
        suite: int = 1, in_flight: int = 2) -> dict[str, Any]:
    """Throughput, then latency at each offered rate, then the bytes each store holds per
    message; prints them and returns the figures (for ``bench/report.py``)."""
    with tempfile.TemporaryDirectory(prefix="blo-bench-") as tmp, \
            fleet(tmp, [LAOCAI, HEKOU], pg=pg, peer_rate=100000.0, peer_burst=100000,
                  post_quantum=suite == 2, batches_in_flight=in_flight) as f:
        net, tokens = f.net, f.tokens
        floor, floor_cpu = crypto_floor(net)
        base, db = f.api(LAOCAI), f.engine(LAOCAI)
        cpu0 = {o: f.cpu_s(o) for o in (LAOCAI, HEKOU)}
        pg0 = db_server_cpu(pg) if pg else {}
        t0, c0 = time.perf_counter(), time.process_time()
        sub_times = asyncio.run(submit_all(base, tokens[LAOCAI], messages, 32))
        client_us = (time.process_time() - c0) * 1e6 / messages
        t_sub = max(sub_times) - t0
        t_end = wait_delivered(db, messages)
        side = {o: (f.cpu_s(o) - cpu0[o]) * 1e6 / messages for o in (LAOCAI, HEKOU)}
        db_us = db_server_cpu_since(pg, pg0) * 1e6 / messages if pg else 0.0
        cpu = sum(side.values()) * messages / 1e6
        e2e = messages / (t_end - t0)
        cpu_us = cpu * 1e6 / messages
        print(f"throughput: {messages} messages of 2 KiB, 32 in flight, "
              f"{'PostgreSQL' if pg else 'SQLite'}, suite {suite}, both gateways on this "
              "machine")
        print(f"  submission accepted (stored)  {messages / t_sub:8.0f} msg/s")
        print(f"  submission -> verified receipt {e2e:8.0f} msg/s "
              f"({(t_end - t0) * 1e6 / messages:.0f} us per message)")
        print(f"  raw crypto per message (seal+verify+receipt sign+verify) {floor:.0f} us "
              f"= {1e6 / floor:.0f} msg/s on one core")
        print(f"  ratio e2e time / raw crypto floor {(1e6 / e2e) / floor:.1f}x")
        print(f"  CPU time: both gateway processes {cpu_us:.0f} us per message, raw crypto "
              f"{floor_cpu:.0f} us; ratio {cpu_us / floor_cpu:.1f}x (sender {side[LAOCAI]:.0f} us, "
              f"receiver {side[HEKOU]:.0f} us)")
        # Everything this run's processes used per message, spread over every core: the
        # shortest time per message this machine allows at this CPU cost.
        cores = len(os.sched_getaffinity(0))
        machine_us = (cpu_us + client_us + db_us) / cores
        print(f"  all the CPU per message: gateways {cpu_us:.0f} us + this bench's client "
              f"{client_us:.0f} us" + (f" + PostgreSQL server {db_us:.0f} us" if pg else "")
              + f"; over {cores} cores at best {machine_us:.0f} us per message, "
              f"{machine_us / floor:.1f}x the raw crypto: the lowest ratio this machine "
              "reaches at this CPU cost")
        out: dict[str, Any] = {
            "client_cpu_us": client_us, "db_cpu_us": db_us, "cores": cores,
            "machine_us": machine_us, "machine_ratio": machine_us / floor,
            "messages": messages, "floor_us": floor, "accepted_per_s": messages / t_sub,
            "e2e_per_s": e2e, "e2e_us": 1e6 / e2e, "ratio": (1e6 / e2e) / floor,
            "cpu_us": cpu_us, "floor_cpu_us": floor_cpu, "sender_cpu_us": side[LAOCAI],
            "receiver_cpu_us": side[HEKOU], "cpu_ratio": cpu_us / floor_cpu,
            "latency": {}}
        commit = commit_floor_ms(Path(tmp))
        out["commit_ms"] = {"p50": commit[0], "p99": commit[1]}
        print(f"  durable commit on this disk (SQLite WAL, synchronous=FULL, 3 KB): p50 "
              f"{commit[0]:.2f} ms, p99 {commit[1]:.2f} ms; three of them between a "
              "submission and its stored receipt")
        for rate in rates:
            before, _ = delivered(db)
            cpu0 = {o: f.cpu_s(o) for o in (LAOCAI, HEKOU)}
            n = asyncio.run(offer(base, tokens[LAOCAI], rate, seconds))
            wait_delivered(db, before + n)
            used = {o: (f.cpu_s(o) - cpu0[o]) * 1e6 / n for o in (LAOCAI, HEKOU)}
            _, lat = delivered(db)
            lat = sorted(lat[before:])
            q = statistics.quantiles(lat, n=100, method="inclusive")
            print(f"latency at {rate:.0f} msg/s offered for {seconds:.0f} s ({n} messages), "
                  "submission to stored verified receipt:")
            print(f"  p50 {q[49]:.0f} ms  p90 {q[89]:.0f} ms  p99 {q[98]:.0f} ms  "
                  f"max {lat[-1]} ms; CPU per message: sender {used[LAOCAI]:.0f} us, "
                  f"receiver {used[HEKOU]:.0f} us")
            out["latency"][rate] = {"p50_ms": q[49], "p90_ms": q[89], "p99_ms": q[98],
                                    "max_ms": float(lat[-1]),
                                    "sender_cpu_us": used[LAOCAI],
                                    "receiver_cpu_us": used[HEKOU]}
        total, _ = delivered(db)
        db.dispose()
        out["store_bytes"] = {o: f.store_bytes(o) for o in (LAOCAI, HEKOU)}
        out["stored_messages"] = total
        for o, tables in out["store_bytes"].items():
            top = ", ".join(f"{t} {b / total:.0f}" for t, b in
                            sorted(tables.items(), key=lambda x: -x[1])[:5])
            print(f"store of {o} after {total} messages: {sum(tables.values()) / total:.0f} "
                  f"bytes per message ({top})")
    return out


if __name__ == "__main__":
    main()
