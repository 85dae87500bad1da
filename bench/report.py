"""Regenerate docs/performance.md (and its latency chart) from one run of the benches.

    pip install -e '.[bench]'      # matplotlib, for the chart
    python bench/report.py [--pg postgresql://postgres@127.0.0.1:5432/test] [--messages 3000]
        [--rates 50 100 200 300] [--seconds 5] [--catchup 20000] [--leaves 1000000]
        [--federation-rate 100] [--federation-seconds 10]

Runs, in this order and with these (modest) sizes: ``bench_gateways`` on SQLite (and on
PostgreSQL with ``--pg``): throughput, latency at each offered rate, bytes per message in
both stores; ``bench_catchup`` (a backlog of --catchup messages drained, urgent messages sent
during the drain); ``bench_audit``'s offline verification of --leaves leaves;
``bench_federation`` (twenty gateways, --federation-rate for --federation-seconds). Each figure is
printed beside the raw cost measured in the same run, and the ratio is what the targets of
issue 14 are about. Writes docs/performance.md and docs/performance-latency.svg, keeping
the "Suite 2" section at its end as it is (``bench/bench_suite2.py --write`` writes that one).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_audit
import bench_catchup
import bench_federation
import bench_gateways
from bench_suite2 import MARKER as SUITE2_MARKER

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Issue 14's targets for e2e time per message over the raw crypto, by store.
E2E_TARGETS = {"SQLite": 1.5, "PostgreSQL": 2.5}


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} × {cpu}, Linux {platform.release()}, Python "
            f"{platform.python_version()}")


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def chart(runs: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "blo-gateway"  # the same figures, the same file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in runs.items():
        rates = sorted(r["latency"])
        for q, style in (("p50_ms", "o--"), ("p99_ms", "s-")):
            ax.plot(rates, [r["latency"][x][q] for x in rates], style,
                    label=f"{name} {q.split('_')[0]}")
    ax.axhline(20, color="grey", linewidth=0.8, linestyle=":", label="p99 target 20 ms")
    ax.set_xlabel("offered rate (messages/s, 2 KiB each)")
    ax.set_ylabel("submission → verified receipt (ms)")
    ax.set_yscale("log")
    ax.set_title("Latency versus offered rate, two gateways on one machine")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def machine_cpu(r: dict[str, Any]) -> str:
    """All the CPU one message cost in a throughput run, spread over the machine's cores."""
    db = f" + PostgreSQL server {r['db_cpu_us']:,.0f}" if r["db_cpu_us"] else ""
    return (f"gateways {r['cpu_us']:,.0f} + the bench's client {r['client_cpu_us']:,.0f}{db} "
            f"µs over {r['cores']} cores = {r['machine_us']:,.0f} µs per message")


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def write(a: argparse.Namespace, runs: dict[str, dict[str, Any]], catch: dict[str, float],
          audit: dict[str, float], fed: dict[str, Any], started: str,
          loads: tuple[str, str]) -> str:
    sq = runs["SQLite"]
    p99_rate = 300.0 if 300.0 in sq["latency"] else max(sq["latency"])
    rows = []
    for name, target in E2E_TARGETS.items():
        r = runs.get(name)
        if r is None:
            rows.append(f"| e2e time per message ÷ raw crypto, {name} | not run (`--pg DSN`) "
                        f"| | ≤ {target}× | |")
            continue
        rows.append(
            f"| e2e time per message ÷ raw crypto, {name} | {r['e2e_per_s']:,.0f} msg/s = "
            f"{r['e2e_us']:,.0f} µs per message; raw crypto {r['floor_us']:,.0f} µs "
            f"(wall clock) | **{r['ratio']:.1f}×** wall; {r['cpu_ratio']:.1f}× CPU "
            f"({r['cpu_us']:,.0f} µs of both gateways ÷ {r['floor_cpu_us']:,.0f} µs; sender "
            f"{r['sender_cpu_us']:,.0f} µs, receiver {r['receiver_cpu_us']:,.0f} µs); "
            f"lowest this machine allows at this CPU cost: **{r['machine_ratio']:.1f}×** "
            f"({machine_cpu(r)}) "
            f"| ≤ {target}× | {verdict(r['ratio'] <= target)} |")
    lat = sq["latency"][p99_rate]
    rows.append(f"| p99 submission → verified receipt at {p99_rate:.0f} msg/s offered (SQLite) "
                f"| p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max "
                f"{lat['max_ms']:.0f} ms; one durable commit on this disk p50 "
                f"{sq['commit_ms']['p50']:.2f} ms, p99 {sq['commit_ms']['p99']:.2f} ms (three "
                f"in the path) | the sender's process busy **"
                f"{lat['sender_cpu_us'] * p99_rate / 1e4:.0f} %** of one core at this rate "
                f"({lat['sender_cpu_us']:,.0f} µs of CPU per message) "
                f"| < 20 ms | {verdict(lat['p99_ms'] < 20)} |")
    rows.append(
        f"| catch-up: {catch['messages']:,.0f} queued while the peer was down (SQLite) "
        f"| drained at {catch['drain_after_first_per_s']:,.0f} msg/s from the first delivery "
        f"({catch['drain_per_s']:,.0f} msg/s counting the peer's start-up, "
        f"{catch['drain_s']:.0f} s); urgent during the drain: "
        f"{catch['urgent_delivered']:.0f} sent, p50 {catch['urgent_p50_ms']:.0f} ms, max "
        f"{catch['urgent_max_ms']:.0f} ms "
        f"| {catch['drain_after_first_per_s'] * catch['floor_us'] / 1e6:.2f} × one core's "
        f"raw crypto rate | ≥ 2,000 msg/s; urgent ≤ 1 s "
        f"| drain {verdict(catch['drain_after_first_per_s'] >= 2000)}, urgent "
        f"{verdict(catch['urgent_max_ms'] <= 1000)} |")
    rows.append(
        f"| offline verification of {audit['leaves']:,.0f} leaves ÷ raw SHA-256 "
        f"| {audit['verify_s']:.2f} s; raw SHA-256 {audit['sha_s']:.2f} s "
        f"| **{audit['ratio']:.1f}×** | ≤ 8× | {verdict(audit['ratio'] <= 8)} |")
    growth = []
    for name, r in runs.items():
        n = r["stored_messages"]
        for office, tables in r["store_bytes"].items():
            growth.append(f"{name} {office}: {sum(tables.values()) / n:,.0f} B")
    rows.append("| store growth per message, both sides, all tables; nonces "
                f"| {'; '.join(growth)} (tables below) | | bounded and documented; nonces "
                "pruned after the skew window | bytes per message **measured**; nonces "
                "**pruned** (tested) |")

    tables = []
    for name, r in runs.items():
        n = r["stored_messages"]
        names = sorted({t for tb in r["store_bytes"].values() for t in tb},
                       key=lambda t: -sum(tb.get(t, 0) for tb in r["store_bytes"].values()))
        offices = list(r["store_bytes"])
        tables.append(f"\n{name}, after {n:,} messages delivered (bytes per message; pages "
                      "or relation sizes with their indexes, so small tables show a floor of "
                      "one page):\n")
        tables.append("| table | " + " | ".join(offices) + " |")
        tables.append("|---|" + "---|" * len(offices))
        for t in names:
            cells = [f"{r['store_bytes'][o].get(t, 0) / n:,.1f}" for o in offices]
            if any(float(c.replace(",", "")) >= 1 for c in cells):
                tables.append(f"| {t} | " + " | ".join(cells) + " |")
        tables.append("| **all** | " + " | ".join(
            f"**{sum(r['store_bytes'][o].values()) / n:,.0f}**" for o in offices) + " |")

    lat_rows = []
    for name, r in runs.items():
        for rate in sorted(r["latency"]):
            x = r["latency"][rate]
            lat_rows.append(f"| {name} | {rate:.0f} | {x['p50_ms']:.0f} | {x['p90_ms']:.0f} | "
                            f"{x['p99_ms']:.0f} | {x['max_ms']:.0f} | "
                            f"{x['sender_cpu_us']:,.0f} | {x['receiver_cpu_us']:,.0f} |")

    fed_rows = [
        f"| deliveries receipted | {fed['deliveries']:,.0f}, **{fed['per_s']:,.0f}/s** from "
        "the first submission to the last verified receipt |",
        f"| submission → stored receipt | p50 {fed['p50_ms']:.0f} ms, p90 "
        f"{fed['p90_ms']:.0f} ms, **p99 {fed['p99_ms']:.0f} ms**, max {fed['max_ms']:.0f} ms |",
        f"| raw crypto of one delivery | {fed['floor_us']:,.0f} µs on one core "
        f"({fed['per_s'] * fed['floor_us'] / 1e4:.0f} % of one core at the rate above) |",
        f"| RSS per gateway | min {fed['rss_min']:.0f} MiB, median {fed['rss_median']:.0f} MiB, "
        f"max {fed['rss_max']:.0f} MiB |",
        f"| a new directory installed on one gateway, on all {fed['gateways']} | "
        f"**{fed['directory_s']:.1f} s** (each learns it from its peers' pings) |"]

    bounds = []
    for name, target in E2E_TARGETS.items():
        r = runs.get(name)
        if r is None:
            continue
        sender_ratio = r["sender_cpu_us"] / r["floor_us"]
        core = r["sender_cpu_us"] * r["e2e_per_s"] / 1e4  # % of one core
        bounds.append(
            f"- **{name}**: the sender's process used {r['sender_cpu_us']:,.0f} µs of CPU per "
            f"message at {r['e2e_per_s']:,.0f} msg/s, **{core:.0f} % of one core**; alone it "
            f"allows {sender_ratio:.1f}× the raw crypto. All the CPU of a message ("
            f"{machine_cpu(r)}) allows **{r['machine_ratio']:.1f}×** at best. The target, "
            f"{target}×, needs the sender's CPU per message cut by "
            f"{max(0.0, 1 - target / sender_ratio) * 100:.0f} % and all the CPU of a message by "
            f"{max(0.0, 1 - target / r['machine_ratio']) * 100:.0f} %, with every core busy "
            "all the time.")

    busy = lat["sender_cpu_us"] * p99_rate / 1e4
    p99_text = (
        f"At {p99_rate:.0f} msg/s offered the sender is busy {busy:.0f} % of one core: "
        + ("a message waits behind the others' work at each of its steps (its submission, its "
           "batch's request and receipts, their commits), which is what makes the p99 there."
           if busy >= 60 else "not near its limit; the p99 there is not the sender's CPU."))

    cmd = " ".join(["python bench/report.py", *sys.argv[1:]])
    return f"""# Performance

Regenerated by one command (this page and `performance-latency.svg`; `pip install -e
'.[bench]'` first, for the chart):

    {cmd}

Run at {started} on {machine()}; load average {loads[0]} at the start and {loads[1]} at
the end. Every ratio below is of two figures measured **in the same run on the same machine**;
the raw crypto of one message (seal: sign, X25519 and AEAD; open: verify; receipt: sign and
verify) is timed on one core. Where the machine is shared (a load average above its core
count) wall-clock figures are inflated and noisy, so the e2e ratio is also given in **CPU
time**: the user and system time both gateway processes used per message, over the CPU time
of the raw crypto. The benches: `bench/bench_gateways.py` (throughput, latency at each
offered rate, store bytes), `bench/bench_catchup.py` (backlog drain, urgent messages during
it), `bench/bench_audit.py` (offline verification), `bench/bench_federation.py` (twenty
gateways, below); `bench/bench_suite2.py` writes the "Suite 2" section at the end
(suite 1 beside suite 2), which this report keeps as it is.

## The targets of issue 14

| figure | measured (raw) | ratio | target | |
|---|---|---|---|---|
{chr(10).join(rows)}

## What bounds the e2e ratios here

Python runs one thread of a process at a time (only the C code of the database driver and of
the crypto libraries runs beside it), and a SQLite home is held by one process, so the
sender's gateway, which does most of the work of a message (the officer's HTTP request, the
JSON, sealing, its store, the delivery request and the receipts), uses about one core at
most. In the throughput run:

{chr(10).join(bounds)}

{p99_text}

## Latency versus offered rate

Submission through the officer API to the verified receipt stored at the sender (sender's
clock), {a.seconds:.0f} s at each rate, one after the other on the same two gateways:

![latency versus offered rate](performance-latency.svg)

| store | offered msg/s | p50 ms | p90 ms | p99 ms | max ms | CPU µs/msg, sender | receiver |
|---|---|---|---|---|---|---|---|
{chr(10).join(lat_rows)}

The CPU columns are each gateway's process time over the messages of that rate (its
background duties included: checkpoints and witnessing, pings, which weigh more per message
at a low rate). At a low rate every message travels alone: its own submission commit, its
own delivery request and receipt, its own transactions on both sides; at the throughput
run's full load they share them (32 a batch), which is why a message costs several times less
CPU there. Twenty offices with a few messages a second between each pair are the low-rate
case (below).

## Store growth

What each side keeps per message: the envelope sealed at rest (about 2.6 KB for a 2 KiB
payload) and its storage key, the outbox or inbox row, both receipts, the audit leaves of
its events and the audit tree's nodes, the case item. It grows linearly with the messages
kept; what bounds it is the retention period (`retention_days`: the content is
crypto-shredded, metadata and audit leaves stay, as the audit log requires). The tables that
would otherwise grow with traffic alone are pruned by `Gateway.sweep`, with every round of
pings (30 s): request nonces once their skew window (2 × `max_skew_ms`) has passed — a
replay of such a request is refused for its timestamp, so pruning never reopens one
(`tests/test_backlog.py::test_nonces_are_pruned_after_the_skew_window`) — and
Idempotency-Keys after `idempotency_key_hours` (`tests/test_idempotency.py`). Every
statement of the hot path is an index search, never a scan of a table that grows
(`tests/test_backlog.py::test_hot_statements_read_through_an_index`), so the cost per message
does not grow with the store.
{chr(10).join(tables)}

## Catch-up

{catch['messages']:,.0f} messages queued at Lào Cai for Hekou while Hekou was down (filled
through `Store.submit_many` at {catch['messages'] / catch['fill_s']:,.0f} msg/s), then Hekou
started: the backlog drained at **{catch['drain_after_first_per_s']:,.0f} msg/s** from the
first delivery, which came {catch['first_s']:.1f} s after Hekou's process started (all of it
in {catch['drain_s']:.0f} s, {catch['drain_per_s']:,.0f} msg/s, counting that start-up).
Lào Cai's process used {catch['sender_cpu_s'] * 1e6 / catch['messages']:,.0f} µs of CPU per
message drained; the raw crypto of one message took {catch['floor_us']:,.0f} µs here. An
officer sent an urgent message every {a.urgent_every} s during the drain;
{catch['urgent_delivered']:.0f} of them, submission to stored receipt: p50
**{catch['urgent_p50_ms']:.0f} ms**, p99 {catch['urgent_p99_ms']:.0f} ms, max
**{catch['urgent_max_ms']:.0f} ms**. The delivery worker takes
urgent rows first and, within a priority, the oldest (`OutboxMixin.due`, one index read per
priority; `tests/test_backlog.py`, `tests/test_service.py`), so an urgent message waits for
the batches in flight (two by default, `batches_in_flight`: while Hekou stores one, Lào Cai
reads and signs the next) and goes in the next one; a reply of ours never overtakes the
message of ours it answers (`tests/test_service.py::
test_an_urgent_reply_never_overtakes_the_message_it_answers`).

## Twenty offices

`bench/bench_federation.py`: {fed['gateways']} gateways on this machine, each its own
process and SQLite store (the offices of `gateway.cli.provision.BORDER_OFFICES`: ten
Vietnamese liaison offices and Border Guard posts, ten Chinese offices; one directory both
roots signed), started in {fed['started_s']:.0f} s. Every office sent 2 KiB case notices to
{fed['fanout']:.0f} offices of the other country, some to two of them at once,
{fed['rate']:.0f} msg/s in all for {fed['seconds']:.0f} s:

| figure | measured |
|---|---|
{chr(10).join(fed_rows)}

What must keep working at this size, checked in the same run (the bench stops on a failure):
{chr(10).join('- ' + line for line in fed['checks'])}

The web app's peer lists at this size (nineteen peers, grouped by country) are driven in a
real browser by `tests/test_web_twenty_offices.py`.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200, 300])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--catchup", type=int, default=20_000)
    ap.add_argument("--urgent-every", type=float, default=0.5)
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--federation-rate", type=float, default=100.0)
    ap.add_argument("--federation-seconds", type=float, default=10.0)
    ap.add_argument("--pg", metavar="DSN", default="")
    ap.add_argument("--out", type=Path, default=DOCS / "performance.md")
    a = ap.parse_args()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load0 = load()
    runs = {"SQLite": bench_gateways.run(a.messages, a.rates, a.seconds)}
    if a.pg:
        runs["PostgreSQL"] = bench_gateways.run(a.messages, a.rates, a.seconds, a.pg)
    catch = bench_catchup.run(a.catchup, a.urgent_every)
    audit = bench_audit.bench_verify(a.leaves)
    fed = bench_federation.run(a.federation_rate, a.federation_seconds)
    chart(runs, a.out.parent / "performance-latency.svg")
    text = write(a, runs, catch, audit, fed, started, (load0, load()))
    if a.out.exists() and SUITE2_MARKER in (old := a.out.read_text(encoding="utf-8")):
        # The Suite 2 section is bench_suite2.py's (--write): kept as it is.
        text = text.rstrip("\n") + "\n\n" + SUITE2_MARKER + old.split(SUITE2_MARKER, 1)[1]
    a.out.write_text(text, encoding="utf-8")
    print(f"wrote {a.out} and {a.out.parent / 'performance-latency.svg'}")


if __name__ == "__main__":
    main()
