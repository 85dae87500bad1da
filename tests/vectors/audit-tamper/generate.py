"""Write the audit tamper corpus: two honest bundles from a short two-gateway run, and
altered copies of the Lào Cai bundle, each named for what it breaks.

    python tests/vectors/audit-tamper/generate.py [OUT_DIR]

``expected.json`` gives, per file, the code ``blo-audit verify`` must refuse it with alone
(``PASS`` where the bundle alone cannot show it) and with Hekou's bundle beside it; the
auditor's pinned trust roots are ``roots.json``. tests/test_audit_verify.py checks the
committed corpus and re-runs this generator. Keys are fresh each run (test-only, public).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import aiohttp  # noqa: E402
from harness import Pair, wait_for  # noqa: E402

from gateway.audit.leaves import LEAF_PREFIX, encode_leaf  # noqa: E402
from gateway.audit.merkle import CompactRange, leaf_hash  # noqa: E402
from gateway.audit.notes import cosign, make_checkpoint, parse_checkpoint, split_note  # noqa: E402
from gateway.cli.provision import provision  # noqa: E402
from gateway.node.bundle import export_bundle  # noqa: E402
from gateway.node.witness import checkpoint_and_witness  # noqa: E402
from gateway.protocol.identity import ED25519, build_directory, sign_directory  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads  # noqa: E402
from gateway.schemas.blo.v1 import directory_pb2  # noqa: E402

Members = dict[str, bytes]


async def _run(tmp: Path) -> tuple[Pair, Members, Members]:
    """A short demo-like run: two messages each way, one read, logs cosigned both ways."""
    pair = Pair(tmp, "sqlite", checkpoint_interval_s=3600)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        async with aiohttp.ClientSession() as s:
            steps = [st for st in case_payloads() if st.answers is None][:3]
            sent = []
            for st in steps:
                o = pair.officer(s, st.sender)
                mid = await o.send(list(st.recipients), st.payload.to_dict())
                sent.append((o, mid, st))

                async def done(o: Any = o, m: str = mid) -> bool:
                    return bool((await o.status(m))["deliveries"][0]["state"] == "delivered")
                await wait_for(done)
            reader = next(x for x in sent if HEKOU in x[2].recipients)
            # Three rounds, so that the other side cosigned this log at least twice after the
            # first cosigned checkpoint, whichever gateway's start-up checkpoint got
            # witnessed; each after a read on each side (records of witnessing alone call
            # for no new checkpoint: node/witness.py).
            for _ in range(3):
                await pair.officer(s, HEKOU).call("GET", f"/api/v1/inbox/{reader[1]}",
                                                  expect=200)
                back = next(x for x in sent if LAOCAI in x[2].recipients)
                await pair.officer(s, LAOCAI).call("GET", f"/api/v1/inbox/{back[1]}",
                                                   expect=200)
                for office in (LAOCAI, HEKOU):
                    await checkpoint_and_witness(pair.gateways[office])
        out = {}
        for office in (LAOCAI, HEKOU):
            path = tmp / f"{office}.tar"
            export_bundle(pair.homes[office], path)
            with tarfile.open(path) as tar:
                out[office] = {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                               for m in tar.getmembers()}
    finally:
        await pair.close()
    return pair, out[LAOCAI], out[HEKOU]


def _tar(path: Path, members: Members, mtime: int) -> None:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(blob), mtime, 0o644
            tar.addfile(info, io.BytesIO(blob))


def _lines(m: Members) -> list[bytes]:
    return m["leaves.jsonl"].split(b"\n")[:-1]


def _with(m: Members, *, lines: list[bytes] | None = None, cps: list[str] | None = None,
          **manifest: Any) -> Members:
    out = dict(m)
    if lines is not None:
        out["leaves.jsonl"] = b"".join(x + b"\n" for x in lines)
    if cps is not None:
        out["checkpoints.json"] = json.dumps(cps, indent=1).encode()
    if manifest:
        out["manifest.json"] = json.dumps({**json.loads(m["manifest.json"]), **manifest},
                                          indent=2).encode()
    return out


def _root(lines: list[bytes]) -> bytes:
    edge = CompactRange()
    for x in lines:
        edge.append(leaf_hash(LEAF_PREFIX + x))
    return edge.root()


def _strip(note: str) -> str:
    """A checkpoint without the witnesses' cosignatures."""
    return "".join(x + "\n" for x in note.split("\n")[:-1] if "/witness " not in x)


def variants(pair: Pair, a: Members) -> dict[str, tuple[Members, str, str]]:
    """name -> (altered Lào Cai bundle, code alone, code with Hekou's bundle)."""
    ring = pair.net.keyrings[LAOCAI]
    manifest = json.loads(a["manifest.json"])
    now = int(manifest["exported_at_ms"])
    lines = _lines(a)
    n = len(lines)
    cps: list[str] = json.loads(a["checkpoints.json"])
    size_of = [parse_checkpoint(split_note(c)[0]).size for c in cps]
    cosigned = [s for s, c in zip(size_of, cps, strict=True) if "/witness " in c and s < n]
    s1 = min(cosigned)  # a checkpoint the other side cosigned, short of the end
    m = s1 + 1
    assert m < max(size_of), "the run must leave at least two checkpoints apart"

    edited = list(lines)
    obj = json.loads(edited[3])
    obj["t"] += 1
    edited[3] = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()

    def resigned(keep: int) -> list[str]:
        kept = [c for c, s in zip(cps, size_of, strict=True) if s <= s1]
        return [*kept, make_checkpoint(ring, keep, _root(lines[:keep]), now)]

    forged = encode_leaf({**json.loads(lines[-1]), "seq": n, "t": now - 1})

    bad = cps[0]
    i = bad.index("\u2014") + 40
    bad = bad[:i] + ("A" if bad[i] != "A" else "B") + bad[i + 1:]

    # Fresh roots, fresh directory, fresh keys: everything re-made and re-signed end to end.
    fresh = provision(now - 60_000)
    ed = list(edited)
    fresh_cp = make_checkpoint(fresh.keyrings[LAOCAI], n, _root(ed), now)
    fresh_cp += cosign(fresh.keyrings[HEKOU], split_note(fresh_cp)[0], now)
    rekeyed = _with(a, lines=ed, cps=[fresh_cp])
    rekeyed["roots.json"] = fresh.roots.to_json().encode()
    rekeyed["directory.bin"] = fresh.directory_bytes

    # The other country's witness key revoked before the cosignatures it made.
    first_ts = min(int.from_bytes(base64.b64decode(x.split(" ")[2])[4:12], "big")
                   for c in cps for x in c.split("\n") if f"{HEKOU}/witness " in x)
    outer = directory_pb2.SignedDirectory.FromString(a["directory.bin"])
    d = directory_pb2.Directory.FromString(outer.directory)
    hk_key = next(k.key_id for o in d.offices if o.office_id == HEKOU for k in o.keys
                  if k.key_id.startswith(ED25519))
    unsigned = build_directory(list(d.offices), serial=d.serial + 1,
                               issued_at_ms=d.issued_at_ms, expires_at_ms=d.expires_at_ms,
                               revocations=[(hk_key, first_ts * 1000 - 1000, "compromised")])
    revoked = dict(a)
    vn, cn = pair.net.root_signers
    revoked["directory.bin"] = sign_directory(sign_directory(unsigned, vn), cn)

    return {
        "edit": (_with(a, lines=edited), "AUDIT_ENTRY_EDITED", "AUDIT_ENTRY_EDITED"),
        "delete": (_with(a, lines=lines[:5] + lines[6:]), "AUDIT_SEQUENCE_BROKEN",
                   "AUDIT_SEQUENCE_BROKEN"),
        "reorder": (_with(a, lines=[*lines[:5], lines[6], lines[5], *lines[7:]]),
                    "AUDIT_SEQUENCE_BROKEN", "AUDIT_SEQUENCE_BROKEN"),
        "insert": (_with(a, lines=[*lines[:5], lines[4], *lines[5:]]),
                   "AUDIT_SEQUENCE_BROKEN", "AUDIT_SEQUENCE_BROKEN"),
        "fork": (_with(a, cps=[*cps, make_checkpoint(ring, size_of[0], bytes(32), now)]),
                 "AUDIT_FORK", "AUDIT_FORK"),
        "truncate": (_with(a, lines=lines[:-3]), "AUDIT_TRUNCATED", "AUDIT_TRUNCATED"),
        "truncate-between-checkpoints": (
            _with(a, lines=lines[:m], cps=[c for c, s in zip(cps, size_of, strict=True)
                                           if s <= s1], size=m),
            "AUDIT_UNSIGNED_TAIL", "AUDIT_UNSIGNED_TAIL"),
        "truncate-and-re-sign": (_with(a, lines=lines[:m], cps=resigned(m), size=m),
                                 "PASS", "AUDIT_TRUNCATED"),
        "unsigned-tail": (_with(a, lines=[*lines, forged], size=n + 1), "AUDIT_UNSIGNED_TAIL",
                          "AUDIT_UNSIGNED_TAIL"),
        "stripped-cosignatures": (_with(a, cps=[_strip(c) for c in cps]),
                                  "AUDIT_NOT_WITNESSED", "AUDIT_NOT_WITNESSED"),
        "renamed-origin": (_with(a, lines=lines[:m], cps=resigned(m), size=m,
                                 origin=f"{LAOCAI}/audit/v2"),
                           "AUDIT_ORIGIN_MISMATCH", "AUDIT_ORIGIN_MISMATCH"),
        "fresh-roots": (rekeyed, "AUDIT_ROOTS_MISMATCH", "AUDIT_ROOTS_MISMATCH"),
        "revoked-witness-key": (revoked, "AUDIT_WITNESS_KEY_REVOKED",
                                "AUDIT_WITNESS_KEY_REVOKED"),
        "bad-signature": (_with(a, cps=[bad, *cps[1:]]), "AUDIT_BAD_SIGNATURE",
                          "AUDIT_BAD_SIGNATURE"),
    }


def write(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pair, a, b = asyncio.run(_run(Path(tmp)))
    mtime = int(json.loads(a["manifest.json"])["exported_at_ms"]) // 1000
    (out / "roots.json").write_text(pair.net.roots.to_json(), encoding="utf-8")
    _tar(out / "laocai.tar", a, mtime)
    _tar(out / "hekou.tar", b, mtime)
    expected: dict[str, Any] = {"peer": "hekou.tar", "roots": "roots.json",
                                "honest": {"laocai.tar": "PASS", "hekou.tar": "PASS"},
                                "altered": {}}
    for name, (members, alone, with_peer) in variants(pair, a).items():
        _tar(out / f"{name}.tar", members, mtime)
        expected["altered"][f"{name}.tar"] = {"alone": alone, "with_peer": with_peer}
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return expected


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    t = time.perf_counter()
    write(target)
    print(f"wrote {target} in {time.perf_counter() - t:.1f} s")
