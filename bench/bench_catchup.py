"""Catch-up: a backlog queued while the peer was down, drained when it comes back.

    python bench/bench_catchup.py [--messages 100000] [--urgent-every 0.5] [--pg DSN]

Starts the Lào Cai and Hekou gateways (processes, fresh keys; SQLite, or a PostgreSQL schema
each with ``--pg``), stops both, and fills Lào Cai's outbox for Hekou with --messages sealed
2 KiB routine case notices through the store's own submission (``Store.submit_many``: the
envelope, its outbox row and audit leaf in one transaction each thousand, as a gateway does;
sealed here, the way the gateway seals). Then Lào Cai starts alone (its worker finds Hekou
down and backs off), and Hekou starts: its ping tells Lào Cai it is back. Measured from
Hekou's start: the rate at which the backlog drains (messages with a stored, verified
receipt per second), and, from the first delivery until the backlog is drained, the latency
of urgent messages that an officer sends through the officer API every --urgent-every
seconds (submission to stored receipt, sender's clock): the worker takes urgent rows first,
so they overtake the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateways import crypto_floor_us, payload_2k
from fleet import Fleet, fleet

from gateway.protocol import envelope
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI
from gateway.store import Incoming, Store, Submission

CHUNK = 1000


def urgent_payload() -> Payload:
    return Payload(pb.CaseNotice(
        context=pb.MessageContext(case_reference="BENCH-URGENT", priority=3, handling_code=1),
        offence=pb.LocalizedText(vi="khẩn " * 8, zh="紧急" * 8)))


def fill(f: Fleet, n: int) -> float:
    """Queue ``n`` sealed messages for Hekou in Lào Cai's stopped store; returns seconds."""
    store = Store(f.engine(LAOCAI), LAOCAI)
    d, keyring, p = f.net.directory(), f.net.keyrings[LAOCAI], payload_2k()
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        now = int(time.time() * 1000)
        batch = []
        for _ in range(min(CHUNK, n - start)):
            data, h = envelope.seal_with_header(p, sender=keyring, recipients=[HEKOU],
                                                directory=d, now_ms=now)
            inc = Incoming(h.message_id, h.sender, h.recipient_offices, int(h.message_type),
                           hashlib.sha256(data).digest(), data, h.created_at_ms,
                           h.expires_at_ms, h.case_reference, h.in_reply_to, int(h.priority),
                           int(h.handling_code), h.deadline_ms, h.workflow_step)
            batch.append(Submission(inc, (HEKOU,), now, "bench"))
        store.submit_many(batch)
    store.engine.dispose()
    return time.perf_counter() - t0


def counts(e: sa.Engine) -> tuple[int, list[int]]:
    """(routine rows delivered, latencies in ms of the urgent rows delivered)."""
    with e.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM outbox WHERE state = 'delivered' "
                              "AND priority < 3")).scalar()
        urgent = c.execute(sa.text(
            "SELECT o.delivered_at_ms - e.created_at_ms FROM outbox o JOIN envelopes e "
            "ON e.id = o.envelope_id WHERE o.state = 'delivered' AND o.priority = 3")).all()
    return int(n or 0), [int(r[0]) for r in urgent]


async def send_urgent(base: str, token: str, every: float, stop: asyncio.Event) -> int:
    body = {"to": [HEKOU], "payload": urgent_payload().to_dict()}
    headers = {"Authorization": f"Bearer {token}"}
    sent = 0
    async with aiohttp.ClientSession() as s:
        while not stop.is_set():
            async with s.post(base + "/api/v1/messages", json=body, headers=headers) as r:
                assert r.status == 201, await r.text()
            sent += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    return sent


async def drain(f: Fleet, n: int, every: float, timeout: float) -> dict[str, float]:
    e = f.engine(LAOCAI)
    stop = asyncio.Event()
    f.procs[HEKOU].start()
    t0 = time.perf_counter()
    cpu0 = f.cpu_s(LAOCAI)
    urgent: asyncio.Task[int] | None = None
    first = None
    while True:
        got, _ = await asyncio.to_thread(counts, e)
        if got and first is None:  # the drain is under way: urgent messages from now on
            first = time.perf_counter() - t0
            urgent = asyncio.create_task(send_urgent(f.api(LAOCAI), f.tokens[LAOCAI], every,
                                                     stop))
        if got >= n:
            break
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"only {got} of {n} delivered")
        await asyncio.sleep(0.25)
    t_end = time.perf_counter() - t0
    cpu = f.cpu_s(LAOCAI) - cpu0
    stop.set()
    sent = await urgent if urgent is not None else 0
    for _ in range(100):  # the last urgent ones
        _, lat = await asyncio.to_thread(counts, e)
        if len(lat) >= sent:
            break
        await asyncio.sleep(0.1)
    e.dispose()
    lat = sorted(lat)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {"drain_s": t_end, "first_s": first or 0.0, "drain_per_s": n / t_end,
            "drain_after_first_per_s": n / (t_end - (first or 0.0)), "sender_cpu_s": cpu,
            "urgent_sent": sent, "urgent_delivered": len(lat), "urgent_p50_ms": q[49],
            "urgent_p99_ms": q[98], "urgent_max_ms": float(lat[-1]) if lat else 0.0}


def run(messages: int, every: float = 0.5, pg: str = "", timeout: float = 1800) -> dict[str, float]:
    """Fill, drain, measure; prints and returns the figures (for ``bench/report.py``)."""
    with tempfile.TemporaryDirectory(prefix="blo-catchup-") as tmp, \
            fleet(tmp, [LAOCAI, HEKOU], pg=pg, peer_rate=100000.0, peer_burst=100000,
                  retry_base_ms=200, retry_cap_ms=2000) as f:
        floor = crypto_floor_us(f.net)
        for proc in f.procs.values():
            proc.stop()
        t_fill = fill(f, messages)
        print(f"catch-up: {messages} messages of 2 KiB queued for {HEKOU} while it was down "
              f"({'PostgreSQL' if pg else 'SQLite'}; filled in {t_fill:.0f} s, "
              f"{messages / t_fill:.0f} msg/s through Store.submit_many)")
        f.procs[LAOCAI].start()
        f.procs[LAOCAI].wait_healthy(f.client(LAOCAI), timeout=60)
        time.sleep(1.0)  # its worker finds Hekou down and backs off
        r = asyncio.run(drain(f, messages, every, timeout))
        f.procs[HEKOU].wait_healthy(f.client(HEKOU), timeout=60)
    r.update(messages=messages, fill_s=t_fill, floor_us=float(floor))
    print(f"  drained in {r['drain_s']:.1f} s from Hekou's start (first delivery after "
          f"{r['first_s']:.1f} s): {r['drain_per_s']:.0f} msg/s "
          f"({r['drain_after_first_per_s']:.0f} msg/s after the first delivery)")
    print(f"  sender CPU {r['sender_cpu_s'] * 1e6 / messages:.0f} us per message; raw crypto "
          f"per message {floor:.0f} us")
    print(f"  urgent messages sent during the drain: {r['urgent_sent']:.0f}, delivered "
          f"{r['urgent_delivered']:.0f}; submission to stored receipt p50 "
          f"{r['urgent_p50_ms']:.0f} ms, p99 {r['urgent_p99_ms']:.0f} ms, "
          f"max {r['urgent_max_ms']:.0f} ms")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--urgent-every", type=float, default=0.5, help="seconds between urgent "
                    "messages during the drain")
    ap.add_argument("--pg", metavar="DSN", default="")
    a = ap.parse_args()
    run(a.messages, a.urgent_every, a.pg)


if __name__ == "__main__":
    main()
