"""The offline verifier refuses every gap (issue 16): the tamper corpus in
tests/vectors/audit-tamper/, each file refused with its own code alone and beside the peer's
bundle; pinned roots; the witness and C2SP; the live peer; the CLI's exit codes."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import aiohttp
import pytest
from harness import BACKENDS, Pair, load_script

from gateway.audit.notes import cosign, make_checkpoint, split_note
from gateway.audit.verify import verify_bundles
from gateway.cli import main
from gateway.node.home import add_user
from gateway.node.witness import checkpoint_and_witness
from gateway.protocol.identity import TrustRoots
from gateway.protocol.peerauth import sign_request
from gateway.protocol.scenario import HEKOU, LAOCAI

CORPUS = Path(__file__).parent / "vectors" / "audit-tamper"


def _check_corpus(folder: Path) -> None:
    expected = json.loads((folder / "expected.json").read_text())
    roots = TrustRoots.load(folder / expected["roots"])
    peer = folder / expected["peer"]
    for name in expected["honest"]:
        report = verify_bundles([folder / name], roots)
        assert report.ok and report.exit_code == 0, (name, report.problems)
    both = verify_bundles([folder / "laocai.tar", peer], roots)
    assert both.ok, both.problems
    assert both.not_checked == ["live_peer", "directory_history"]
    for name, want in expected["altered"].items():
        alone = verify_bundles([folder / name], roots)
        if want["alone"] == "PASS":
            assert alone.ok, (name, alone.problems)
            assert "peer_bundle" in alone.not_checked  # named, not silently passed
        else:
            assert want["alone"] in alone.codes, (name, alone.problems)
            assert alone.exit_code in (1, 2), name
        paired = verify_bundles([folder / name, peer], roots)
        assert want["with_peer"] in paired.codes, (name, paired.problems)
        assert not paired.ok


def test_committed_tamper_corpus_is_refused_code_by_code():
    assert (CORPUS / "expected.json").exists()
    total = sum(p.stat().st_size for p in CORPUS.iterdir())
    assert total < 600_000  # keep the corpus small
    _check_corpus(CORPUS)


def test_tamper_generator_still_produces_a_corpus_that_is_refused(tmp_path):
    generate = load_script(CORPUS / "generate.py", "audit_tamper_generate")

    generate.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in CORPUS.iterdir()
                                                                if p.suffix != ".py"
                                                                and p.name != "__pycache__")
    _check_corpus(tmp_path)


def test_each_finding_of_the_issue_is_refused_with_its_own_code():
    """Findings 1, 2, 3, 5, 6 of issue 16 (each passed on the old verifier)."""
    roots = TrustRoots.load(CORPUS / "roots.json")
    want = {"unsigned-tail.tar": "AUDIT_UNSIGNED_TAIL",
            "truncate-between-checkpoints.tar": "AUDIT_UNSIGNED_TAIL",
            "stripped-cosignatures.tar": "AUDIT_NOT_WITNESSED",
            "renamed-origin.tar": "AUDIT_ORIGIN_MISMATCH",
            "fresh-roots.tar": "AUDIT_ROOTS_MISMATCH",
            "revoked-witness-key.tar": "AUDIT_WITNESS_KEY_REVOKED"}
    for name, code in want.items():
        for paths in ([CORPUS / name], [CORPUS / name, CORPUS / "hekou.tar"]):
            report = verify_bundles(paths, roots)
            assert code in report.codes, (name, report.problems)


def test_cli_exit_codes_json_and_labels(capsys):
    roots = str(CORPUS / "roots.json")
    assert main(["audit", "verify", str(CORPUS / "laocai.tar"), str(CORPUS / "hekou.tar"),
                 "--roots", roots, "--lang", "vi"]) == 0
    out = capsys.readouterr().out
    assert "PASS (exit 0): ĐẠT" in out and "Chưa kiểm tra" in out
    assert main(["audit", "verify", str(CORPUS / "edit.tar"), "--roots", roots,
                 "--lang", "zh"]) == 1
    assert "FAIL (exit 1): 未通过" in capsys.readouterr().out
    assert main(["audit", "verify", str(CORPUS / "stripped-cosignatures.tar"), "--roots",
                 roots, "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "FAIL policy not met"
    assert data["findings"][0]["code"] == "AUDIT_NOT_WITNESSED"
    assert {x["what"] for x in data["not_checked"]} == {"peer_bundle", "live_peer",
                                                         "directory_history"}
    log = data["logs"][0]
    assert log["witnessed_to"] == 0 and log["entries"] > 0 and "reads" in log
    # No roots from the auditor: the bundle's own are never used.
    assert main(["audit", "verify", str(CORPUS / "laocai.tar")]) == 3
    assert "AUDIT_NO_ROOTS" in capsys.readouterr().err
    assert main(["audit", "verify", str(CORPUS / "missing.tar"), "--roots", roots]) == 3
    # Published fingerprints pin the roots too; the fresh-roots bundle does not match them.
    from gateway.protocol.identity import fingerprint

    fps = [fingerprint(r.public_key) for r in TrustRoots.load(CORPUS / "roots.json").roots]
    args = [a for fp in fps for a in ("--root-fingerprint", fp)]
    assert main(["audit", "verify", str(CORPUS / "laocai.tar"), *args]) == 0
    assert main(["audit", "verify", str(CORPUS / "fresh-roots.tar"), *args]) == 1
    assert "AUDIT_ROOTS_MISMATCH" in capsys.readouterr().err


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param, checkpoint_interval_s=3600)
    await p.start(LAOCAI)
    await p.start(HEKOU)
    for i in range(2):
        for office in (LAOCAI, HEKOU):
            # something each office does (a user added: an audit entry), so that each round
            # signs a new checkpoint (records of witnessing alone do not: node/witness.py)
            add_user(p.homes[office], f"clerk{i}", "auditor")
            await checkpoint_and_witness(p.gateways[office])
    yield p
    await p.close()


async def test_witness_refuses_extension_lines_with_a_stable_code(pair):
    """Finding 4: the witness answered 200 with a cosignature over the body without the
    extension line, which C2SP verifiers reject. Ours now refuses extension lines."""
    lc = pair.gateways[LAOCAI]
    hk = pair.gateways[HEKOU]
    held, _ = await hk.store.call(hk.store.sync.witness_latest, f"{LAOCAI}/audit/v1")
    size, root = await lc.store.call(lc.store.sync.audit_head)
    ring = pair.net.keyrings[LAOCAI]
    note = make_checkpoint(ring, size, root, int(time.time() * 1000))
    body, sig = note.split("\n\n")
    from gateway.audit.notes import sign_line

    ext_body = body + "\nextension line\n"
    ext_note = ext_body + "\n" + sign_line(f"{LAOCAI}/audit/v1", ring.signing_key(
        int(time.time() * 1000)).signer, ext_body)
    proof = (await lc.store.call(lc.store.sync.audit_consistency, held, size)
             if 0 < held < size else [])
    path = "/peer/v1/witness/add-checkpoint"
    req = (f"old {held}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof)
           + "\n" + ext_note).encode()
    h = sign_request(ring, method="POST", path_qs=path, destination=HEKOU, body=req,
                     now_ms=int(time.time() * 1000))
    async with aiohttp.ClientSession() as s, s.post(pair.peer(HEKOU) + path, data=req,
                                                    headers=h) as r:
        status, text = r.status, await r.text()
    assert status == 400, text
    assert text.startswith("CHECKPOINT_EXTENSION")


def test_cosign_follows_c2sp_over_the_whole_body(net, now_ms):
    """Whatever body it is given, the cosignature covers all of it (C2SP tlog-cosignature),
    so a C2SP verifier and ours agree; tested against the C2SP/Go vectors in
    test_note_vectors.py."""
    from gateway.audit.notes import verify_cosignature_line, witness_name

    ring = net.keyrings[HEKOU]
    body = "example.com/log\n5\n" + base64.b64encode(bytes(32)).decode() + "\next\n"
    line = cosign(ring, body, now_ms)
    blob = base64.b64decode(line.split(" ")[2])
    pk = ring.signing_key(now_ms).public_key
    assert verify_cosignature_line(body, witness_name(HEKOU), pk, blob) == now_ms // 1000
    with pytest.raises(Exception, match="does not verify"):
        verify_cosignature_line(body.replace("ext", "exu"), witness_name(HEKOU), pk, blob)
    _ = split_note


async def test_live_peer_catches_a_truncation_the_bundle_alone_cannot(pair, tmp_path, capsys):
    import asyncio

    from gateway.node.bundle import export_bundle

    async def cli(argv: list[str]) -> int:  # the gateways run on this event loop
        return await asyncio.to_thread(main, argv)

    honest = tmp_path / "lc.tar"
    export_bundle(pair.homes[LAOCAI], honest)
    generate = load_script(CORPUS / "generate.py", "audit_tamper_generate")

    members = {}
    import tarfile

    with tarfile.open(honest) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    lines = generate._lines(members)
    manifest = json.loads(members["manifest.json"])
    cps = json.loads(members["checkpoints.json"])
    keep = len(lines) - 2
    ring = pair.net.keyrings[LAOCAI]
    kept = [c for c in cps if int(split_note(c)[0].split("\n")[1]) <= keep]
    forged = generate._with(members, lines=lines[:keep], size=keep, cps=[
        *kept, make_checkpoint(ring, keep, generate._root(lines[:keep]),
                               manifest["exported_at_ms"])])
    bad = tmp_path / "truncated.tar"
    generate._tar(bad, forged, 0)
    roots = str(tmp_path / "roots.json")
    Path(roots).write_text(pair.net.roots.to_json())
    args = ["--roots", roots, "--max-witness-lag", "3600"]
    home = str(pair.homes[HEKOU])  # the auditor signs its peer requests as Hekou
    peer = ["--peer", pair.peer(LAOCAI), "--home", home]
    assert await cli(["audit", "verify", str(bad), *args]) == 0  # alone: looks like a shorter log
    capsys.readouterr()
    assert await cli(["audit", "verify", str(bad), *args, *peer]) == 1
    assert "AUDIT_TRUNCATED" in capsys.readouterr().err
    assert await cli(["audit", "verify", str(honest), *args, *peer, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["logs"][0]["live"]["cosigned_by"] == [HEKOU]
    assert "live_peer" not in {x["what"] for x in data["not_checked"]}
    # An unreachable peer: could not check.
    assert await cli(["audit", "verify", str(honest), *args, "--home", home, "--peer",
                 "http://127.0.0.1:9"]) == 3
