#!/usr/bin/env python3
"""Fuzz every parser a peer or a user reaches, in process and through two live gateways.

    python tools/fuzz.py --inputs 1000000 --http 100000 [--seed N] [--out DIR]

Parser targets (called directly, mutations of valid seeds: bit flips, truncation,
insertion, deletion, splices and random bytes): envelope framing and verification,
request-authentication headers (version 1, and version 2: RFC 9421 between suite-2
offices), batch framing, checkpoint and cosignature notes,
witness request bodies, receipts, payload JSON and binary, the trust directory.
A target may only raise ``GatewayError`` (a stable code); anything else is a crash,
written with its input to ``--out``.

HTTP targets (two real gateways on loopback, SQLite): mutated requests to every peer
route (validly signed with mutated headers, query or body, and unsigned) and to the
officer API (mutated JSON bodies and query strings, with a valid token). Any 5xx is a
failure; at the end the gateways' logs are searched for tracebacks.

Prints one table: target, inputs, refused (4xx / GatewayError), accepted, 5xx or
crashes; exits 1 if any crash or 5xx was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.audit import notes  # noqa: E402
from gateway.cli.provision import Network, provision  # noqa: E402
from gateway.node import witness  # noqa: E402
from gateway.node.delivery import frame_batch, parse_batch  # noqa: E402
from gateway.protocol import envelope, httpsig, peerauth, receipt  # noqa: E402
from gateway.protocol.errors import GatewayError  # noqa: E402
from gateway.protocol.identity import Directory  # noqa: E402
from gateway.protocol.messages import Payload  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads  # noqa: E402


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """One random mutation of ``data`` (a few in a row, sometimes)."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(7)
        if op == 0 and b:  # flip bits
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # truncate
            del b[rng.randrange(len(b)):]
        elif op == 2:  # insert random bytes
            i = rng.randrange(len(b) + 1)
            b[i:i] = rng.randbytes(rng.choice((1, 2, 4, 16, 300)))
        elif op == 3 and b:  # delete a run
            i = rng.randrange(len(b))
            del b[i:i + rng.choice((1, 2, 8, 64))]
        elif op == 4 and pool:  # splice with another seed
            other = rng.choice(pool)
            i, j = rng.randrange(len(b) + 1), rng.randrange(len(other) + 1)
            b = b[:i] + other[j:]
        elif op == 5 and b:  # interesting byte values
            i = rng.randrange(len(b))
            b[i] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x30, 0x0A, 0x22, 0x5C))
        else:  # duplicate a run
            i = rng.randrange(len(b) + 1)
            b[i:i] = b[i:i + rng.choice((1, 4, 32))]
    return bytes(b)


class Seeds:
    """Valid inputs for every target, from a freshly provisioned network."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms
        # Lào Cai and Hekou on suite 2 (docs/wire-format.md §14): seeds of both suites.
        self.net: Network = provision(now_ms, post_quantum=(LAOCAI, HEKOU))
        self.directory = self.net.directory()
        ring = self.net.keyrings[LAOCAI]
        self.envelopes = [envelope.seal(s.payload, sender=self.net.keyrings[s.sender],
                                        recipients=list(s.recipients), directory=self.directory,
                                        now_ms=now_ms, suite=suite)
                          for suite in (1, 2) for s in case_payloads()]
        self.batch = frame_batch(self.envelopes[:3])
        self.payload_json = [json.dumps(s.payload.to_dict()).encode() for s in case_payloads()]
        self.payload_bin = [s.payload.to_bytes() for s in case_payloads()]
        cp = notes.make_checkpoint(ring, 5, b"\x11" * 32, now_ms)
        self.checkpoint = cp.encode()
        body = cp.partition("\n\n")[0] + "\n"
        self.cosigned = (cp + notes.cosign(self.net.keyrings[HEKOU], body, now_ms)).encode()
        self.witness_body = (b"old 3\n" + base64.b64encode(b"\x22" * 32) + b"\n\n"
                             + self.checkpoint)
        env = envelope.verify(self.envelopes[0], self.directory, now_ms=now_ms)
        self.receipts = [receipt.make_receipt(self.net.keyrings[HEKOU],
                                              message_id=env.header.message_id, sender=LAOCAI,
                                              envelope_sha256=env.sha256, received_at_ms=now_ms,
                                              suite=suite) for suite in (1, 2)]
        self.headers = peerauth.sign_request(ring, method="POST", path_qs="/peer/v1/envelopes",
                                             destination=HEKOU, body=self.batch, now_ms=now_ms)
        self.pq_net: Network = provision(now_ms, post_quantum=True)
        self.pq_directory = self.pq_net.directory()
        self.v2_headers, _ = httpsig.sign_request(
            self.pq_net.keyrings[LAOCAI], method="POST", path_qs="/peer/v1/envelopes",
            destination=HEKOU, body=self.batch, now_ms=now_ms)


def parser_targets(s: Seeds) -> dict[str, tuple[list[bytes], Callable[[bytes], Any]]]:
    d, now = s.directory, s.now

    def headers(data: bytes) -> Any:
        # The seed is the header block "Name: value" lines; mutated as bytes.
        h: dict[str, str] = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            k, _, v = line.partition(": ")
            h[k] = v
        return peerauth.verify_request(h, method="POST", path_qs="/peer/v1/envelopes",
                                       body=s.batch, directory=d, me=HEKOU, now_ms=now,
                                       max_skew_ms=300_000)

    def headers_v2(data: bytes) -> Any:
        h: dict[str, str] = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            k, _, v = line.partition(": ")
            h[k] = v
        v2 = httpsig.check_headers(h, method="POST", path="/peer/v1/envelopes", query="",
                                   directory=s.pq_directory, me=HEKOU, now_ms=now,
                                   max_skew_ms=300_000)
        httpsig.check_body(v2, s.batch)
        return v2

    def note(data: bytes) -> Any:
        text = data.decode("utf-8", "replace")
        notes.split_note(text)
        cp = notes.verify_note(text, d, LAOCAI, at_ms=now)
        notes.verify_cosignatures(text, d, HEKOU, at_ms=now)
        return cp

    def rec(data: bytes) -> Any:
        env = envelope.verify(s.envelopes[0], d, now_ms=now)
        return receipt.verify_receipt(data, d, receiver=HEKOU, message_id=env.header.message_id,
                                      envelope_sha256=env.sha256, now_ms=now)

    def json_payload(data: bytes) -> Any:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None  # the API refuses non-UTF-8 before this parser
        return Payload.from_json(text)

    header_seed = "\n".join(f"{k}: {v}" for k, v in s.headers.items()).encode()
    return {
        "envelope": (s.envelopes, lambda b: envelope.verify(b, d, now_ms=now)),
        "batch": ([s.batch], lambda b: [envelope.verify(e, d, now_ms=now)
                                        for e in parse_batch(b, 256)]),
        "request-headers": ([header_seed], headers),
        "request-headers-v2": (["\n".join(f"{k}: {v}" for k, v in s.v2_headers.items())
                                .encode()], headers_v2),
        "checkpoint-note": ([s.checkpoint, s.cosigned], note),
        "witness-body": ([s.witness_body], witness._parse),
        "receipt": (s.receipts, rec),
        "payload-json": (s.payload_json, json_payload),
        "payload-binary": (s.payload_bin, Payload.from_bytes),
        "directory": ([s.net.directory_bytes],
                      lambda b: Directory.verify(b, s.net.roots, now_ms=now)),
    }


def run_parsers(inputs: int, rng: random.Random, out: Path) -> dict[str, Counter[str]]:
    seeds = Seeds(int(time.time() * 1000))
    targets = parser_targets(seeds)
    names = list(targets)
    stats: dict[str, Counter[str]] = {n: Counter() for n in names}
    pool = [x for pool, _ in targets.values() for x in pool]
    for i in range(inputs):
        name = names[i % len(names)]
        seeds_of, fn = targets[name]
        data = (rng.randbytes(rng.randrange(200)) if rng.random() < 0.02
                else mutate(rng, rng.choice(seeds_of), pool))
        try:
            fn(data)
            stats[name]["accepted"] += 1
        except GatewayError:
            stats[name]["refused"] += 1
        except Exception:  # noqa: BLE001 - this is what the fuzzer looks for
            stats[name]["crash"] += 1
            path = out / f"crash-{name}-{i}.bin"
            path.write_bytes(data)
            (out / f"crash-{name}-{i}.txt").write_text(traceback.format_exc())
        stats[name]["inputs"] += 1
    return stats


# ---------------------------------------------------------------------------- over HTTP

async def run_http(count: int, rng: random.Random, workdir: Path) -> dict[str, Counter[str]]:
    import aiohttp

    from gateway.cli.demo import free_port
    from gateway.node.config import load_config
    from gateway.node.gateway import Gateway
    from gateway.node.home import add_user, init_home

    now = int(time.time() * 1000)
    ports = {o: (free_port(), free_port()) for o in (LAOCAI, HEKOU)}
    net = provision(now, endpoints={o: f"http://127.0.0.1:{p[0]}" for o, p in ports.items()})
    gws, tokens = {}, {}
    for office in (LAOCAI, HEKOU):
        home = workdir / office
        init_home(home, keyring=net.keyrings[office], directory=net.directory_bytes,
                  roots=net.roots, peer_port=ports[office][0], api_port=ports[office][1],
                  peer_rate=1e9, peer_burst=10**9, preauth_failure_rate=1e9,
                  preauth_failure_burst=10**9)
        tokens[office] = add_user(home, "fuzz.officer", "officer").read_text().strip()
        gws[office] = Gateway(load_config(home))
        await gws[office].start()
    peer = f"http://127.0.0.1:{ports[HEKOU][0]}"
    api = f"http://127.0.0.1:{ports[LAOCAI][1]}"
    ring = net.keyrings[LAOCAI]
    d = net.directory()
    env = envelope.seal(case_payloads()[0].payload, sender=ring, recipients=[HEKOU],
                        directory=d, now_ms=now)
    payload = case_payloads()[0].payload.to_dict()
    peer_routes = [("POST", "/peer/v1/envelopes", frame_batch([env])),
                   ("GET", "/peer/v1/ping", b""),
                   ("GET", "/peer/v1/audit/checkpoint", b""),
                   ("GET", "/peer/v1/audit/consistency?old=1&new=2", b""),
                   ("GET", "/peer/v1/audit/inclusion?index=0&size=1", b""),
                   ("POST", "/peer/v1/witness/add-checkpoint", b"old 0\n\n")]
    api_bodies = [json.dumps({"to": [HEKOU], "payload": payload}).encode(),
                  json.dumps({"to": [HEKOU]}).encode(), b"{}", b"[]"]
    api_routes = ["/api/v1/messages", "/api/v1/inbox?limit=10", "/api/v1/cases?due_hours=1",
                  "/api/v1/stats?from=2026-01-01&to=2026-12-31", "/api/v1/messages/" + "0" * 32]
    stats: dict[str, Counter[str]] = {"http-peer": Counter(), "http-officer": Counter()}
    pool = [r[2] for r in peer_routes] + api_bodies

    def classify(target: str, status: int, what: Any = None) -> None:
        c = stats[target]
        if status >= 500:
            with (workdir.parent / "http-5xx.txt").open("a") as f:
                f.write(f"{target} {status} {what!r}\n")
        c["inputs"] += 1
        c["5xx" if status >= 500 else "refused" if status >= 400 else "accepted"] += 1
        if status >= 500:
            c[f"status {status}"] += 1

    async def one_peer(s: aiohttp.ClientSession) -> None:
        method, path, body = rng.choice(peer_routes)
        if rng.random() < 0.3:
            path = mutate(rng, path.encode(), []).decode("ascii", "ignore") or "/"
            if not path.startswith("/"):
                path = "/" + path
        if rng.random() < 0.5:
            body = mutate(rng, body, pool)
        h = peerauth.sign_request(ring, method=method, path_qs=path, destination=HEKOU,
                                  body=body, now_ms=int(time.time() * 1000))
        if rng.random() < 0.6:
            k = rng.choice([*h, "Content-Type"])
            raw = mutate(rng, h.get(k, "x").encode(), [])
            h[k] = raw.decode("latin-1").translate(dict.fromkeys(range(32)) | {127: None})
        if rng.random() < 0.05:
            h = {}
        try:
            async with s.request(method, peer + path, data=body, headers=h) as r:
                await r.read()
                classify("http-peer", r.status, (method, path, h, body[:200]))
        except (aiohttp.ClientError, ValueError):
            stats["http-peer"]["client_refused"] += 1

    async def one_officer(s: aiohttp.ClientSession) -> None:
        auth = {"Authorization": f"Bearer {tokens[LAOCAI]}", "Content-Type": "application/json"}
        if rng.random() < 0.5:
            body = mutate(rng, rng.choice(api_bodies), pool)
            method, path = "POST", "/api/v1/messages"
        else:
            method, path, body = "GET", rng.choice(api_routes), b""
            path = mutate(rng, path.encode(), []).decode("ascii", "ignore")
            if not path.startswith("/"):
                path = "/" + path
        try:
            async with s.request(method, api + path, data=body, headers=auth) as r:
                await r.read()
                classify("http-officer", r.status, (method, path, body[:300]))
        except (aiohttp.ClientError, ValueError):
            stats["http-officer"]["client_refused"] += 1

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as s:
            done = 0
            while done < count:
                n = min(64, count - done)
                await asyncio.gather(*(one_peer(s) if i % 2 else one_officer(s)
                                       for i in range(n)))
                done += n
    finally:
        for gw in gws.values():
            await gw.stop()
    for office in (LAOCAI, HEKOU):
        log = workdir / office / "gateway.log"
        if log.exists():
            stats["http-peer" if office == HEKOU else "http-officer"]["tracebacks"] += \
                log.read_text(errors="replace").count("Traceback")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=100_000, help="parser inputs (in process)")
    ap.add_argument("--http", type=int, default=5_000, help="HTTP requests to live gateways")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="where crashing inputs are written")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)  # noqa: S311 - fuzzing, not secrets
    rng = random.Random(seed)  # noqa: S311
    out = args.out or Path(tempfile.mkdtemp(prefix="blo-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    stats = run_parsers(args.inputs, rng, out)
    if args.http:
        (out / "http").mkdir(exist_ok=True)
        stats.update(asyncio.run(run_http(args.http, rng, out / "http")))
    total = Counter[str]()
    print(f"seed {seed}; {time.monotonic() - t0:.0f} s; crashing inputs under {out}")
    print(f"{'target':<18}{'inputs':>10}{'refused':>10}{'accepted':>10}{'5xx/crash':>11}")
    for name, c in stats.items():
        bad = c["crash"] + c["5xx"] + c["tracebacks"]
        print(f"{name:<18}{c['inputs']:>10}{c['refused']:>10}{c['accepted']:>10}{bad:>11}")
        total.update(c)
        total["bad"] += bad
    print(f"{'total':<18}{total['inputs']:>10}{total['refused']:>10}{total['accepted']:>10}"
          f"{total['bad']:>11}")
    return 1 if total["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
