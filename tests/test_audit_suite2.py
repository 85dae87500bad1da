"""Suite 2 in the audit log (issue 19c): two real gateways whose directory says they accept
suite 2 sign every checkpoint with Ed25519 and ML-DSA-65 and cosign each other's with both;
the exported bundles verify with ``blo-gateway audit verify``; a checkpoint or cosignature
stripped of its ML-DSA-65 line is refused (witness: ``DOWNGRADE``; auditor:
``AUDIT_DOWNGRADE``); an upgrade from suite 1 keeps the older Ed25519-only checkpoints valid;
a suite-1 bundle verifies as before."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import tarfile
import time
from pathlib import Path

import aiohttp
import pytest
from harness import BACKENDS, Pair, load_script

from gateway.audit.notes import (
    DASH,
    cosign,
    cosignatures,
    make_checkpoint,
    split_note,
    verify_note,
    witness_name,
)
from gateway.audit.verify import verify_bundles
from gateway.cli import main
from gateway.cli.provision import DEFAULT_OFFICES, YEAR_MS, cosigned_directory
from gateway.node.bundle import export_bundle
from gateway.node.trust import install_offline
from gateway.node.witness import checkpoint_and_witness
from gateway.protocol import peerrequest
from gateway.protocol.errors import BadSignature, Downgrade
from gateway.protocol.identity import SUITE_2, TrustRoots
from gateway.protocol.scenario import HEKOU, LAOCAI

CORPUS = Path(__file__).parent / "vectors" / "audit-tamper"
LAG = ["--max-witness-lag", "3600"]


async def _witness_rounds(pair: Pair, rounds: int = 2) -> None:
    for _ in range(rounds):
        for office in (LAOCAI, HEKOU):
            await checkpoint_and_witness(pair.gateways[office])


@pytest.fixture(params=BACKENDS)
async def pq_pair(request, tmp_path):
    p = Pair(tmp_path, request.param, post_quantum=True, checkpoint_interval_s=3600)
    await p.start(LAOCAI)
    await p.start(HEKOU)
    await _witness_rounds(p)
    yield p
    await p.close()


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(blob), 0o644
            tar.addfile(info, io.BytesIO(blob))
    return path


def _drop_long_lines(note: str, name: str) -> str:
    """``note`` without the ML-DSA-65 lines under ``name`` (the long ones)."""
    return "".join(x + "\n" for x in note.split("\n")[:-1]
                   if not (x.startswith(f"{DASH} {name} ") and len(x) > 1000))


def _roots(pair: Pair, tmp: Path) -> str:
    path = tmp / "roots.json"
    path.write_text(pair.net.roots.to_json())
    return str(path)


async def test_hybrid_checkpoints_are_witnessed_and_the_bundles_verify(pq_pair, tmp_path,
                                                                       capsys):
    pair = pq_pair
    lc, hk = pair.gateways[LAOCAI], pair.gateways[HEKOU]
    assert lc.directory.required_suite(LAOCAI, HEKOU) == SUITE_2
    latest = await lc.store.call(lc.store.sync.latest_checkpoint)
    note = latest["note"]
    _, sigs = split_note(note)
    names = [n for n, _ in sigs]
    # Two lines by the log (Ed25519, ML-DSA-65), two by the witness, under the same names.
    assert names.count(f"{LAOCAI}/audit/v1") == 2 and names.count(witness_name(HEKOU)) == 2
    assert sorted(len(b) for n, b in sigs if n == witness_name(HEKOU)) == [76, 3321]
    verify_note(note, lc.directory, LAOCAI, at_ms=int(time.time() * 1000))
    (cs,) = cosignatures(note, lc.directory, HEKOU)
    assert cs.pq_key_id.startswith("mldsa65:")
    assert len(note.encode()) < 12_000
    # Both bundles, by the command an inspector runs.
    a, b = tmp_path / "lc.tar", tmp_path / "hk.tar"
    export_bundle(pair.homes[LAOCAI], a)
    export_bundle(pair.homes[HEKOU], b)
    roots = _roots(pair, tmp_path)
    code = await asyncio.to_thread(main, ["audit", "verify", str(a), str(b), "--roots", roots,
                                          *LAG, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["problems"]
    assert {log["witnessed_to"] > 0 for log in out["logs"]} == {True}
    # Stripping the log's ML-DSA-65 line from every checkpoint: refused alone and in pair.
    m = _members(a)
    cps = [_drop_long_lines(c, f"{LAOCAI}/audit/v1") for c in json.loads(m["checkpoints.json"])]
    stripped = _tar(tmp_path / "stripped.tar",
                    {**m, "checkpoints.json": json.dumps(cps).encode()})
    report = verify_bundles([stripped], TrustRoots.load(Path(roots)), max_lag_ms=3_600_000)
    assert "AUDIT_DOWNGRADE" in report.codes and report.exit_code == 1, report.problems
    code = await asyncio.to_thread(main, ["audit", "verify", str(stripped), str(b), "--roots",
                                          roots, *LAG])
    assert code == 1 and "AUDIT_DOWNGRADE" in capsys.readouterr().err
    # Stripping the witness's ML-DSA-65 cosignature lines: refused too.
    cps = [_drop_long_lines(c, witness_name(HEKOU)) for c in json.loads(m["checkpoints.json"])]
    bare = _tar(tmp_path / "bare.tar", {**m, "checkpoints.json": json.dumps(cps).encode()})
    report = verify_bundles([bare], TrustRoots.load(Path(roots)), max_lag_ms=3_600_000)
    assert "AUDIT_DOWNGRADE" in report.codes, report.problems
    with pytest.raises(Downgrade):
        cosignatures(_drop_long_lines(note, witness_name(HEKOU)), lc.directory, HEKOU)
    _ = hk


def _request_headers(ring, directory, path: str, body: bytes, now: int) -> dict[str, str]:
    """Headers of a peer request to Hekou as the gateway signs it (version 2 between
    suite-2 offices)."""
    return dict(peerrequest.sign(ring, directory, method="POST", path_qs=path,
                                 destination=HEKOU, body=body, now_ms=now).headers)


async def test_witness_refuses_an_ed25519_only_checkpoint_with_downgrade(pq_pair):
    pair = pq_pair
    lc, hk = pair.gateways[LAOCAI], pair.gateways[HEKOU]
    held, _ = await hk.store.call(hk.store.sync.witness_latest, f"{LAOCAI}/audit/v1")
    await lc.store.call(lc.store.sync.audit, [{"t": int(time.time() * 1000),
                                               "type": "user.login", "user": "officer"}])
    size, root = await lc.store.call(lc.store.sync.audit_head)
    ring = pair.net.keyrings[LAOCAI]
    now = int(time.time() * 1000)
    path = "/peer/v1/witness/add-checkpoint"
    proof = await lc.store.call(lc.store.sync.audit_consistency, held, size)
    head = f"old {held}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n"

    async def submit(note: str) -> tuple[int, str]:
        req = (head + note).encode()
        h = _request_headers(ring, lc.directory, path, req, now)
        async with aiohttp.ClientSession() as s, s.post(pair.peer(HEKOU) + path, data=req,
                                                        headers=h) as r:
            return r.status, await r.text()

    status, text = await submit(make_checkpoint(ring, size, root, now, post_quantum=False))
    assert status == 400 and text.startswith("DOWNGRADE"), (status, text)
    assert "has no ML-DSA-65 signature" in text  # the checkpoint's, not the request's
    status, text = await submit(make_checkpoint(ring, size, root, now))
    assert status == 200, text
    assert [len(x) > 1000 for x in text.splitlines()] == [False, True]  # Ed25519, ML-DSA-65


async def test_upgrade_from_suite_1_keeps_older_checkpoints_valid(tmp_path, capsys):
    """Suite-1 gateways witness each other, then both rotate to suite 2 and install a
    directory that says so: the Ed25519-only checkpoints signed before it came into force
    still verify, the later ones are hybrid, and the bundles verify."""
    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=3600)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        await _witness_rounds(pair)
        await pair.stop(LAOCAI)
        await pair.stop(HEKOU)
        now = int(time.time() * 1000)
        rings = dict(pair.net.keyrings)
        for office in (LAOCAI, HEKOU):
            rings[office] = rings[office].rotate(now_ms=now, valid_ms=YEAR_MS,
                                                 overlap_ms=YEAR_MS, post_quantum=True)
        signed = cosigned_directory(rings, pair.net.root_signers, DEFAULT_OFFICES,
                                    {o: pair.peer(o) for o in (LAOCAI, HEKOU)}, serial=2,
                                    now_ms=now)
        for office in (LAOCAI, HEKOU):
            cfg = pair.config(office)
            cfg.path(cfg.keyring).unlink()  # as `keys rotate` replaces it
            rings[office].save(cfg.path(cfg.keyring))
            install_offline(cfg, signed, now_ms=now)
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        await _witness_rounds(pair)
        a, b = tmp_path / "lc.tar", tmp_path / "hk.tar"
        export_bundle(pair.homes[LAOCAI], a)
        export_bundle(pair.homes[HEKOU], b)
    finally:
        await pair.close()
    cps = json.loads(_members(a)["checkpoints.json"])
    hybrid = [[n for n, _ in split_note(c)[1]].count(f"{LAOCAI}/audit/v1") == 2 for c in cps]
    assert hybrid[0] is False and hybrid[-1] is True, hybrid
    roots = _roots(pair, tmp_path)
    assert main(["audit", "verify", str(a), str(b), "--roots", roots, *LAG]) == 0, \
        capsys.readouterr()
    capsys.readouterr()
    # A newer checkpoint stripped of its ML-DSA-65 line is still refused.
    m = _members(a)
    last = _drop_long_lines(cps[-1], f"{LAOCAI}/audit/v1")
    bad = _tar(tmp_path / "bad.tar", {**m, "checkpoints.json": json.dumps([*cps[:-1], last])
                                      .encode()})
    assert main(["audit", "verify", str(bad), "--roots", roots, *LAG]) == 1
    assert "AUDIT_DOWNGRADE" in capsys.readouterr().err


def test_a_suite_1_bundle_verifies_as_before():
    """The committed corpus was made by suite-1 gateways (Ed25519 lines only)."""
    roots = TrustRoots.load(CORPUS / "roots.json")
    report = verify_bundles([CORPUS / "laocai.tar", CORPUS / "hekou.tar"], roots)
    assert report.ok, report.problems
    generate = load_script(CORPUS / "generate.py", "audit_tamper_generate")
    _ = generate


def test_mixed_directory_and_unlisted_keys(now_ms):
    """Lào Cai on suite 2, Hekou on suite 1: Lào Cai's hybrid checkpoints verify at Hekou,
    Hekou's Ed25519-only checkpoints and cosignatures are all a suite-1 office owes. An
    ML-DSA-65 line by a key that no directory lists is ignored (c2sp.org/signed-note)."""
    from gateway.cli.provision import provision
    from gateway.protocol.identity import Directory

    net = provision(now_ms)
    rings = dict(net.keyrings)
    rings[LAOCAI] = rings[LAOCAI].rotate(now_ms=now_ms - 5000, valid_ms=YEAR_MS,
                                         overlap_ms=YEAR_MS, post_quantum=True)
    mixed = Directory.verify(cosigned_directory(rings, net.root_signers, DEFAULT_OFFICES, {},
                                                serial=2, now_ms=now_ms),
                             net.roots, now_ms=now_ms)
    assert mixed.suites(LAOCAI) == (1, 2) and mixed.suites(HEKOU) == (1,)
    root = bytes(range(32))
    lc_note = make_checkpoint(rings[LAOCAI], 3, root, now_ms)
    verify_note(lc_note, mixed, LAOCAI, at_ms=now_ms)
    with pytest.raises(Downgrade):
        verify_note(_drop_long_lines(lc_note, f"{LAOCAI}/audit/v1"), mixed, LAOCAI,
                    at_ms=now_ms)
    body = split_note(lc_note)[0]
    (c,) = cosignatures(lc_note + cosign(rings[HEKOU], body, now_ms), mixed, HEKOU)
    assert c.pq_key_id == ""
    hk_note = make_checkpoint(rings[HEKOU], 3, root, now_ms)
    assert len(split_note(hk_note)[1]) == 1
    verify_note(hk_note, mixed, HEKOU, at_ms=now_ms)
    # The suite-1 directory does not list Lào Cai's new keys: with it, Lào Cai signs with
    # its listed Ed25519 key and the unlisted ML-DSA-65 key, whose line verifiers ignore.
    old = net.directory()
    lc_old = make_checkpoint(rings[LAOCAI].usable_in(old), 3, root, now_ms)
    assert len(split_note(lc_old)[1]) == 2  # signs with the unlisted ML-DSA-65 key anyway
    verify_note(lc_old, old, LAOCAI, at_ms=now_ms)
    # A corrupted ML-DSA-65 line by a listed key is a bad signature, never ignored.
    name, blob = split_note(lc_note)[1][1]
    bad = blob[:-1] + bytes([blob[-1] ^ 1])
    forged = lc_note.replace(base64.b64encode(blob).decode(), base64.b64encode(bad).decode())
    with pytest.raises(BadSignature):
        verify_note(forged, mixed, LAOCAI, at_ms=now_ms)
    _ = name
