"""Suite 1 beside suite 2 (Ed25519 + ML-DSA-65, HPKE ML-KEM-768 + X25519), in one run.

    python bench/bench_suite2.py [--seconds 0.4] [--leaves 200000] [--checkpoints 200]
                                 [--e2e 2000] [--write docs/performance.md]

For each figure, suite 1 and suite 2 measured in the same process one after the other, and
their ratio: envelope size per recipient (1 and 4 recipients), seal, verify and open time;
receipt sign + verify; peer request sign + verify; audit checkpoint sign + verify and
cosign + verify; and the offline audit verification rate (leaves/s) of a bundle whose
checkpoints are hybrid against one whose are Ed25519-only.

Where this tree has no suite-2 code for a figure (``envelope.seal(..., suite=2)``,
``receipt.make_receipt(..., suite=2)``, the version-2 request signature of
``gateway.protocol.httpsig``), the suite-2 side is the **primitive cost** and is labelled
so: the suite-1 operation plus what suite 2 adds, timed on the raw primitives (ML-DSA-65
sign/verify over the same bytes; one HPKE ML-KEM-768+X25519 wrap of a 32-byte key per
recipient, HKDF-SHA256, ChaCha20-Poly1305). Requests are also given as primitives alone:
Ed25519 against Ed25519 + ML-DSA-65 over a 200-byte request base.
Checkpoints and the audit figures are always the real code (gateway/audit/notes.py).

``--e2e N`` also runs ``bench/bench_gateways.py`` (two gateway processes, SQLite) with N
messages on suite 1 and then on suite 2: messages per second from submission to verified
receipt, each against its own suite's raw crypto, latency at 200 msg/s offered for 5 s, and
the store per message.

``--write FILE`` puts the figures in FILE's "Suite 2" section (the part of
docs/performance.md that bench/report.py keeps when it regenerates the rest).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import inspect
import io
import json
import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import nacl.public
import nacl.signing
import nacl.utils
from bench_audit import event
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway.audit.leaves import LEAF_PREFIX, encode_leaf
from gateway.audit.merkle import MemoryTree, leaf_hash
from gateway.audit.notes import (
    cosign,
    cosignatures,
    log_origin,
    make_checkpoint,
    split_note,
    verify_note,
)
from gateway.audit.verify import FORMAT, verify_bundles
from gateway.cli.provision import DEFAULT_OFFICES, Network, OfficeSpec, provision
from gateway.protocol import envelope, peerauth, receipt
from gateway.protocol.identity import ML_KEM_768_X25519, Directory
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD

MARKER = "<!-- suite2: the section below is written by bench/bench_suite2.py --write; " \
         "bench/report.py keeps it -->"
EXTRA = (OfficeSpec("cn.yunnan.hekou.bj", "CN", "Đồn Biên phòng Hà Khẩu", "河口边防检查站",
                    "border_guard"),
         OfficeSpec("cn.yunnan.jinping.blo", "CN", "Văn phòng liên lạc Kim Bình",
                    "金平边境联络官办公室", "liaison_office"))
FOUR = [HEKOU, LAOCAI_BORDER_GUARD, "cn.yunnan.hekou.bj", "cn.yunnan.jinping.blo"]
HPKE_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                        hpke.AEAD.CHACHA20_POLY1305)


def per_op(fn: Callable[[], object], seconds: float) -> float:
    """Seconds per call (at least 5 calls)."""
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or n < 5:
        fn()
        n += 1
    return elapsed / n


def has_param(fn: Callable[..., object], name: str) -> bool:
    return name in inspect.signature(fn).parameters


class Row:
    """One figure, suite 1 beside suite 2 (``how``: "real" or "primitive cost")."""

    def __init__(self, name: str, s1: float, s2: float, unit: str, how: str) -> None:
        self.name, self.s1, self.s2, self.unit, self.how = name, s1, s2, unit, how

    @property
    def ratio(self) -> float:
        return self.s2 / self.s1 if self.s1 else float("nan")

    def fmt(self, v: float) -> str:
        if self.unit == "us":
            return f"{v * 1e6:,.0f} µs"
        if self.unit == "s":
            return f"{v:.2f} s"
        if self.unit == "B":
            return f"{v:,.0f} B"
        return f"{v:,.0f} {self.unit}"

    def line(self) -> str:
        return (f"  {self.name:<44} {self.fmt(self.s1):>14} {self.fmt(self.s2):>14} "
                f"{self.ratio:6.2f}x  {self.how}")

    def md(self) -> str:
        return (f"| {self.name.strip()} | {self.fmt(self.s1)} | {self.fmt(self.s2)} | "
                f"{self.ratio:.2f}× | {self.how} |")


def _nets(now: int) -> tuple[Network, Network]:
    offices = (*DEFAULT_OFFICES, *EXTRA)
    return (provision(now, offices=offices),
            provision(now, offices=offices, post_quantum=True))


def envelopes(s1: Network, s2: Network, now: int, seconds: float) -> list[Row]:
    text = "x" * 2000
    payload = Payload(pb.CaseNotice(offence=pb.LocalizedText(vi=text[:1024], zh=text[:1000])))
    d1, d2 = s1.directory(), s2.directory()
    real = has_param(envelope.seal, "suite")
    rows: list[Row] = []
    mk: dict[tuple[int, int], bytes] = {}
    for n in (1, 4):
        mk[1, n] = envelope.seal(payload, sender=s1.keyrings[LAOCAI], recipients=FOUR[:n],
                                 directory=d1, now_ms=now)
        if real:
            mk[2, n] = envelope.seal(payload, sender=s2.keyrings[LAOCAI],
                                     recipients=FOUR[:n], directory=d2, now_ms=now, suite=2)
    # Primitives of suite 2: ML-DSA-65 over the envelope's bytes; one HPKE wrap per recipient.
    pq = next(k for k in s2.keyrings[LAOCAI].keys if k.algorithm == "mldsa65").pq_signer
    kem = next(k for k in s2.keyrings[HEKOU].keys if k.algorithm == ML_KEM_768_X25519)
    kem_priv = kem.kem_private
    kem_pub = kem_priv.public_key()
    key32 = nacl.utils.random(32)
    wrapped = HPKE_SUITE.encrypt(key32, kem_pub, info=b"blo-gateway/bench")
    body = mk[1, 1]
    pq_sig = pq.sign(body)
    pq_pub = pq.public_key()
    t_pq_sign = per_op(lambda: pq.sign(body), seconds)
    t_pq_verify = per_op(lambda: pq_pub.verify(pq_sig, body), seconds)
    t_wrap = per_op(lambda: HPKE_SUITE.encrypt(key32, kem_pub, info=b"blo-gateway/bench"),
                    seconds)
    t_unwrap = per_op(lambda: HPKE_SUITE.decrypt(wrapped, kem_priv, info=b"blo-gateway/bench"),
                      seconds)
    how = "real" if real else "primitive cost"
    per1 = (len(mk[1, 4]) - len(mk[1, 1])) / 3
    if real:
        per2 = (len(mk[2, 4]) - len(mk[2, 1])) / 3
        size2 = {n: float(len(mk[2, n])) for n in (1, 4)}
    else:  # suite 1's per-recipient entry with the HPKE enc ‖ ct instead of eph pk + wrap
        per2 = per1 - (32 + 48) + len(wrapped) + (len(kem.key_id) - len("x25519:") - 32)
        size2 = {n: len(mk[1, n]) + 3309 + 48 + n * (per2 - per1) for n in (1, 4)}
    rows.append(Row("envelope bytes per recipient", per1, per2, "B", how))
    for n in (1, 4):
        rows.append(Row(f"envelope size, {n} recipient{'s' if n > 1 else ''} (2 KiB payload)",
                        len(mk[1, n]), size2[n], "B", how))
    for n in (1, 4):
        r = FOUR[:n]
        t1 = per_op(lambda r=r: envelope.seal(payload, sender=s1.keyrings[LAOCAI],  # type: ignore[misc]
                                              recipients=r, directory=d1, now_ms=now), seconds)
        if real:
            t2 = per_op(lambda r=r: envelope.seal(  # type: ignore[misc]
                payload, sender=s2.keyrings[LAOCAI], recipients=r, directory=d2, now_ms=now,
                suite=2), seconds)
        else:
            t2 = t1 + t_pq_sign + n * t_wrap
        rows.append(Row(f"seal + sign, {n} recipient{'s' if n > 1 else ''}", t1, t2, "us", how))
    v1 = per_op(lambda: envelope.verify(mk[1, 1], d1, now_ms=now), seconds)
    env1 = envelope.verify(mk[1, 1], d1, now_ms=now)
    o1 = per_op(lambda: envelope.open_envelope(env1, s1.keyrings[HEKOU]), seconds)
    if real:
        v2 = per_op(lambda: envelope.verify(mk[2, 1], d2, now_ms=now), seconds)
        env2 = envelope.verify(mk[2, 1], d2, now_ms=now)
        o2 = per_op(lambda: envelope.open_envelope(env2, s2.keyrings[HEKOU]), seconds)
    else:
        v2, o2 = v1 + t_pq_verify, o1 + t_unwrap
    rows.append(Row("verify (1 recipient)", v1, v2, "us", how))
    rows.append(Row("open (1 recipient)", o1, o2, "us", how))
    ed = s1.keyrings[LAOCAI].signing_key(now).signer
    ed_sig = ed.sign(body).signature
    rk = nacl.public.PrivateKey.generate()
    boxed = nacl.public.SealedBox(rk.public_key).encrypt(key32)
    rows.append(Row("primitive: sign the envelope (Ed25519 / ML-DSA-65)",
                    per_op(lambda: ed.sign(body), seconds), t_pq_sign, "us", "primitive"))
    rows.append(Row("primitive: verify it (Ed25519 / ML-DSA-65)",
                    per_op(lambda: ed.verify_key.verify(body, ed_sig), seconds), t_pq_verify,
                    "us", "primitive"))
    rows.append(Row("primitive: wrap 32 B (X25519 box / HPKE)", per_op(
        lambda: nacl.public.SealedBox(rk.public_key).encrypt(key32), seconds), t_wrap, "us",
        "primitive"))
    rows.append(Row("primitive: unwrap 32 B (X25519 box / HPKE)", per_op(
        lambda: nacl.public.SealedBox(rk).decrypt(boxed), seconds), t_unwrap, "us",
        "primitive"))
    return rows


def receipts(s1: Network, s2: Network, now: int, seconds: float) -> Row:
    d1, d2 = s1.directory(), s2.directory()
    mid, sha = nacl.utils.random(16), hashlib.sha256(b"an envelope").digest()
    real = has_param(receipt.make_receipt, "suite")

    def one(net: Network, d: Directory, **kw: Any) -> None:
        rec = receipt.make_receipt(net.keyrings[HEKOU], message_id=mid, sender=LAOCAI,
                                   envelope_sha256=sha, received_at_ms=now, **kw)
        receipt.verify_receipt(rec, d, receiver=HEKOU, message_id=mid, envelope_sha256=sha,
                               now_ms=now, **({"suite": 2} if kw else {}))

    t1 = per_op(lambda: one(s1, d1), seconds)
    if real:
        t2 = per_op(lambda: one(s2, d2, suite=2), seconds)
    else:
        pq = next(k for k in s2.keyrings[HEKOU].keys if k.algorithm == "mldsa65").pq_signer
        blob = receipt.make_receipt(s1.keyrings[HEKOU], message_id=mid, sender=LAOCAI,
                                    envelope_sha256=sha, received_at_ms=now)
        sig, pub = pq.sign(blob), pq.public_key()
        t2 = t1 + per_op(lambda: pq.sign(blob), seconds) + per_op(
            lambda: pub.verify(sig, blob), seconds)
    return Row("receipt sign + verify", t1, t2, "us", "real" if real else "primitive cost")



def requests(s1: Network, s2: Network, now: int, seconds: float) -> list[Row]:
    """Our suite-1 peer request (peerauth) beside the version-2 one (issue 19b's ``httpsig``)
    if this tree has it, else beside the primitive cost; and the primitives alone, Ed25519
    against Ed25519 + ML-DSA-65 over a 200-byte request base."""
    base = nacl.utils.random(200)
    ed = nacl.signing.SigningKey.generate()
    pq = mldsa.MLDSA65PrivateKey.generate()
    pq_pub = pq.public_key()
    t_ed = per_op(lambda: ed.verify_key.verify(base, ed.sign(base).signature), seconds)
    t_pq = per_op(lambda: pq_pub.verify(pq.sign(base), base), seconds)
    d1, d2 = s1.directory(), s2.directory()
    path, body = "/peer/v1/witness/add-checkpoint", b"old 0\n\n" + b"x" * 200

    def ours() -> None:
        h = peerauth.sign_request(s1.keyrings[LAOCAI], method="POST", path_qs=path,
                                  destination=HEKOU, body=body, now_ms=now)
        peerauth.verify_request(h, method="POST", path_qs=path, body=body,
                                directory=d1, me=HEKOU, now_ms=now, max_skew_ms=60_000)

    t_ours = per_op(ours, seconds)
    t_v2, how = t_ours + t_pq, "primitive cost"
    try:
        httpsig: Any = importlib.import_module("gateway.protocol.httpsig")

        def v2() -> None:
            h, _ = httpsig.sign_request(s2.keyrings[LAOCAI], method="POST", path_qs=path,
                                        destination=HEKOU, body=body, now_ms=now)
            req = httpsig.check_headers(h, method="POST", path=path, query="", directory=d2,
                                        me=HEKOU, now_ms=now, max_skew_ms=60_000)
            httpsig.check_body(req, body)

        v2()
        t_v2, how = per_op(v2, seconds), "real"
    except (ImportError, AttributeError, TypeError):
        pass
    return [Row("peer request sign + verify", t_ours, t_v2, "us", how),
            Row("  primitives: 200-byte request base", t_ed, t_ed + t_pq, "us", "primitive")]


def checkpoints(s1: Network, s2: Network, now: int, seconds: float) -> list[Row]:
    rows = []
    root = hashlib.sha256(b"a tree").digest()
    d1, d2 = s1.directory(), s2.directory()

    def cp(net: Network, d: Directory) -> str:
        note = make_checkpoint(net.keyrings[LAOCAI], 1000, root, now)
        verify_note(note, d, LAOCAI, at_ms=now)
        return note

    notes = {1: cp(s1, d1), 2: cp(s2, d2)}
    rows.append(Row("checkpoint sign + verify", per_op(lambda: cp(s1, d1), seconds),
                    per_op(lambda: cp(s2, d2), seconds), "us", "real"))

    def co(net: Network, d: Directory, note: str) -> None:
        body = split_note(note)[0]
        cosignatures(note + cosign(net.keyrings[HEKOU], body, now), d, HEKOU)

    rows.append(Row("cosign + verify cosignature", per_op(lambda: co(s1, d1, notes[1]), seconds),
                    per_op(lambda: co(s2, d2, notes[2]), seconds), "us", "real"))
    full = {k: n + cosign((s1 if k == 1 else s2).keyrings[HEKOU], split_note(n)[0], now)
            for k, n in notes.items()}
    rows.append(Row("cosigned checkpoint size", len(full[1].encode()), len(full[2].encode()),
                    "B", "real"))
    return rows


def _bundle(net: Network, n: int, k: int, lines: list[bytes], tree: MemoryTree,
            path: Path, now: int) -> None:
    ring, witness = net.keyrings[LAOCAI], net.keyrings[HEKOU]
    sizes = sorted({max(1, n * (i + 1) // k) for i in range(k)})
    cps = []
    for s in sizes:
        note = make_checkpoint(ring, s, tree.root(s), now)
        cps.append(note + cosign(witness, split_note(note)[0], now))
    members = {
        "manifest.json": json.dumps({"format": FORMAT, "office": LAOCAI,
                                     "origin": log_origin(LAOCAI), "size": n,
                                     "exported_at_ms": now}).encode(),
        "leaves.jsonl": b"".join(x + b"\n" for x in lines),
        "checkpoints.json": json.dumps(cps).encode(), "witnessed.json": b"[]",
        "directory.bin": net.directory_bytes, "roots.json": net.roots.to_json().encode(),
    }
    with tarfile.open(path, "w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def audit(s1: Network, s2: Network, n: int, k: int, now: int) -> list[Row]:
    lines, tree = [], MemoryTree()
    for i in range(n):
        line = encode_leaf({"v": 1, "seq": i, "office": LAOCAI, **event(i)})
        lines.append(line)
        tree.append_hash(leaf_hash(LEAF_PREFIX + line))
    took = {1: float("inf"), 2: float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for suite, net in ((1, s1), (2, s2)):
            paths[suite] = Path(tmp) / f"suite{suite}.tar"
            _bundle(net, n, k, lines, tree, paths[suite], now)
        for _ in range(2):  # alternately, the better of two: the first run also warms up
            for suite, net in ((1, s1), (2, s2)):
                t = time.perf_counter()
                report = verify_bundles([paths[suite]], net.roots, max_lag_ms=10**12)
                took[suite] = min(took[suite], time.perf_counter() - t)
                assert report.ok, report.problems
    return [Row(f"audit verify, {n:,} leaves, {k} cosigned checkpoints", n / took[1],
                n / took[2], "leaves/s", "real"),
            Row("  the same, seconds", took[1], took[2], "s", "real")]


def run(seconds: float, leaves: int, k: int) -> dict[str, Any]:
    now = int(time.time() * 1000)
    load0 = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    s1, s2 = _nets(now)
    rows = [*envelopes(s1, s2, now, seconds), receipts(s1, s2, now, seconds),
            *requests(s1, s2, now, seconds), *checkpoints(s1, s2, now, seconds),
            *audit(s1, s2, leaves, k, now)]
    return {"rows": rows, "started": started, "load": (load0, "{:.1f} {:.1f} {:.1f}".format(
        *os.getloadavg())), "wall_s": time.perf_counter() - t0, "seconds": seconds,
        "leaves": leaves, "checkpoints": k}


def section(r: dict[str, Any]) -> str:
    rows: list[Row] = r["rows"]
    primitive = any(x.how == "primitive cost" for x in rows)
    size = next(x for x in rows if x.name == "cosigned checkpoint size")
    mb = {1: 2 * 8640 * size.s1 / 1e6, 2: 2 * 8640 * size.s2 / 1e6}
    secs = next(x for x in rows if x.name.strip() == "the same, seconds")
    extra = (secs.s2 - secs.s1) / r["checkpoints"] * 1e3
    note = ("\n\"primitive cost\": this tree has no suite-2 code for that figure (suite-2 "
            "envelopes and receipts are issue 19a's, version-2 requests 19b's), so the "
            "suite-2 side is the suite-1 operation measured here plus the raw cost of what "
            "suite 2 adds (ML-DSA-65 sign and verify over the same bytes, one HPKE "
            "ML-KEM-768+X25519 wrap or unwrap per recipient), and sizes are computed from "
            "the primitives' sizes. Re-run `python bench/bench_suite2.py --write "
            "docs/performance.md` once they are merged: the bench then times the real code.\n"
            if primitive else "")
    e2e = r.get("e2e")
    e2e_text = ""
    if e2e:
        one, two = e2e[1], e2e[2]

        def lat(x: dict[str, Any]) -> str:
            q = next(iter(x["latency"].values()))
            return f"{q['p50_ms']:.0f} / {q['p99_ms']:.0f} ms"

        def store(x: dict[str, Any]) -> str:
            n = x["stored_messages"]
            return " / ".join(f"{sum(t.values()) / n:,.0f}" for t in x["store_bytes"].values())
        rate = next(iter(one["latency"]))
        table = [
            ("submission → verified receipt, 32 in flight",
             f"{one['e2e_per_s']:,.0f} msg/s", f"{two['e2e_per_s']:,.0f} msg/s"),
            ("raw crypto of one message (seal, verify, receipt sign + verify)",
             f"{one['floor_us']:,.0f} µs", f"{two['floor_us']:,.0f} µs"),
            ("e2e time per message ÷ its suite's raw crypto",
             f"{one['ratio']:.1f}×", f"{two['ratio']:.1f}×"),
            ("CPU of both gateways per message ÷ raw crypto",
             f"{one['cpu_ratio']:.1f}×", f"{two['cpu_ratio']:.1f}×"),
            (f"latency at {rate:.0f} msg/s offered, p50 / p99", lat(one), lat(two)),
            ("store per message, sender / receiver (bytes, all tables)", store(one),
             store(two)),
        ]
        lines = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in table)
        e2e_text = f"""
End to end between two gateways (processes on this machine, SQLite; `bench/bench_gateways.py`
with {one['messages']} messages, on suite 1 and then suite 2, in the same run):

| figure | suite 1 | suite 2 |
|---|---|---|
{lines}

On suite 2 the ML-DSA-65 signatures (envelope and receipt, hedged) are most of the cost, so
the gateway's own overhead is a smaller share of it.
"""
    return f"""{MARKER}

## Suite 2

Suite 1 (Ed25519, X25519) beside suite 2 (Ed25519 **and** ML-DSA-65, HPKE ML-KEM-768 +
X25519), measured one after the other in one run of `python bench/bench_suite2.py`
(--seconds {r['seconds']} per figure; {r['wall_s']:.0f} s in all) at {r['started']}, load
average {r['load'][0]} at the start and {r['load'][1]} at the end (2 cores shared with other
work: absolute times are noisy, the ratios less so). In-process, one operation at a time
(times are per operation); the audit verification as `blo-gateway audit verify` runs it.
{note}
| figure | suite 1 | suite 2 | suite 2 / suite 1 | how |
|---|---|---|---|---|
{chr(10).join(x.md() for x in rows)}
{e2e_text}
Storage of checkpoints: a cosignature is itself an entry of the witness's log, so two gateways
that witness each other would sign a new checkpoint for each other every round (10 s) even
when idle: about 8,640 cosigned checkpoints a day each, {mb[1]:,.1f} MB on suite 1 and
{mb[2]:,.0f} MB on suite 2 (from the cosigned checkpoint sizes above). Records of witnessing
alone call for a new checkpoint only after 30 minutes (`gateway/node/witness.py`;
docs/audit-log.md), so an idle pair signs 48 a day ({mb[2] * 48 / 8640:,.1f} MB on suite 2);
under traffic each round that saw new events still signs one.

The audit figure is `verify_bundles` on a bundle of {r['leaves']:,} leaves with
{r['checkpoints']} checkpoints, each cosigned by the other country's witness (the better of two
runs each): {extra:.2f} ms more per cosigned checkpoint here, for its two ML-DSA-65
verifications (the log's and the witness's) and its notes 28 times larger, plus one search of
the leaves for the entry where the directory came into force (docs/audit-log.md, Suite 2).
"""


def write_section(path: Path, text: str) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    head = old.split(MARKER, 1)[0].rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=0.4, help="per timed figure")
    ap.add_argument("--leaves", type=int, default=200_000)
    ap.add_argument("--checkpoints", type=int, default=200)
    ap.add_argument("--e2e", type=int, default=0, metavar="N",
                    help="also two gateways end to end with N messages, per suite")
    ap.add_argument("--write", type=Path, metavar="FILE", help="update FILE's Suite 2 section")
    a = ap.parse_args()
    r = run(a.seconds, a.leaves, a.checkpoints)
    if a.e2e:
        import bench_gateways

        r["e2e"] = {s: bench_gateways.run(a.e2e, [200.0], 5.0, suite=s) for s in (1, 2)}
    print(f"suite 1 beside suite 2, {r['started']}, load {r['load'][0]} -> {r['load'][1]}, "
          f"{r['wall_s']:.0f} s")
    print(f"  {'figure':<44} {'suite 1':>14} {'suite 2':>14} {'ratio':>7}  how")
    for row in r["rows"]:
        print(row.line())
    if a.write:
        write_section(a.write, section(r))
        print(f"wrote the Suite 2 section of {a.write}")


if __name__ == "__main__":
    main()
