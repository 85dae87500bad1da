"""The audit log end to end: real gateways, witnessing across the border, exported bundles,
and every kind of tampering an operator might try."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time

import aiohttp
import pytest
from harness import BACKENDS, Officer, Pair, run_cli, wait_for

from gateway.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from gateway.audit.notes import log_origin, make_checkpoint, parse_checkpoint, split_note
from gateway.audit.verify import verify_bundles
from gateway.node.home import add_user
from gateway.node.witness import checkpoint_and_witness, witness_order
from gateway.protocol.peerauth import sign_request
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param, checkpoint_interval_s=3600)
    yield p
    await p.close()


async def _exchange(pair: Pair) -> None:
    """The scenario through the officer APIs, one message opened, logs cosigned both ways."""
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    async with aiohttp.ClientSession() as s:
        mids = []
        for step in case_payloads():
            o = Officer(s, pair.api(step.sender), pair.tokens[step.sender]["officer"])
            payload = (step.replying_to(mids[step.answers][1]) if step.answers is not None
                       else step.payload)
            mids.append((o, await o.send(list(step.recipients), payload.to_dict())))

            async def done(o=o, m=mids[-1][1]) -> bool:
                return (await o.status(m))["deliveries"][0]["state"] == "delivered"
            await wait_for(done)
        for o, m in mids:
            async def done(o=o, m=m) -> bool:
                return (await o.status(m))["deliveries"][0]["state"] == "delivered"
            await wait_for(done)
        reader = Officer(s, pair.api(HEKOU), pair.tokens[HEKOU]["officer"])
        await reader.call("GET", f"/api/v1/inbox/{mids[0][1]}", expect=200)
    for _ in range(2):  # twice: the second round cosigns the growth of the first
        for office in (LAOCAI, HEKOU):
            await checkpoint_and_witness(pair.gateways[office])


async def _bundles(pair: Pair, tmp_path) -> tuple:
    from gateway.node.bundle import export_bundle

    out = {}
    for office in (LAOCAI, HEKOU):
        out[office] = tmp_path / f"{office}.tar"
        export_bundle(pair.homes[office], out[office])
    return out[LAOCAI], out[HEKOU]


async def test_logs_cosigned_across_the_border_and_bundles_verify(pair, tmp_path):
    await _exchange(pair)
    for office, peer in ((LAOCAI, HEKOU), (HEKOU, LAOCAI)):
        health = await pair.gateways[office].health()
        assert health["audit"]["alerts"] == []
        assert health["peers"][peer]["cosigned_our_log_to"] > 0
    a, b = await _bundles(pair, tmp_path)
    for paths in ([a], [b], [a, b]):
        report = verify_bundles(paths, pair.net.roots)
        assert report.ok, report.problems
    report = verify_bundles([a, b], pair.net.roots)
    assert report.matching[f"{LAOCAI}->{HEKOU} matched"] == 7  # 6 + the record signature
    assert report.matching[f"{HEKOU}->{LAOCAI} matched"] == 4
    events = report.logs[1]["events"]
    assert events["envelope.received"] == 7 and events["message.opened"] == 1
    assert report.logs[0]["cosignatures"] >= 1
    # No personal data and no ciphertext in the bundles.
    for path in (a, b):
        blob = path.read_bytes()
        for secret in ("Giàng", "王氏梅", "Giang Thi Mai", "+84 900", "ba tuần"):
            assert secret.encode() not in blob


@pytest.mark.parametrize("backend", BACKENDS)
async def test_witnesses_bounds_who_cosigns_the_other_country_first(backend, tmp_path):
    """With ``witnesses = 1`` Lào Cai's checkpoints are cosigned by one peer: Hekou (the other
    country) when it is up; while it is down, the next in order (the Border Guard post)."""
    pair = Pair(tmp_path, backend, checkpoint_interval_s=3600, witnesses=1)
    try:
        lc = await pair.start(LAOCAI)
        assert witness_order(lc) == [HEKOU, LAOCAI_BORDER_GUARD]
        await pair.start(LAOCAI_BORDER_GUARD)
        await checkpoint_and_witness(lc)  # Hekou is down: the post cosigns
        peers = (await lc.health())["peers"]
        first = peers[LAOCAI_BORDER_GUARD]["cosigned_our_log_to"]
        assert first > 0 and peers[HEKOU]["cosigned_our_log_to"] == 0

        await pair.start(HEKOU)
        async with aiohttp.ClientSession() as s:  # the log grows by more than bookkeeping
            await pair.officer(s, LAOCAI).send([HEKOU], case_payloads()[0].payload.to_dict())
        await checkpoint_and_witness(lc)
        health = await lc.health()
        assert health["peers"][HEKOU]["cosigned_our_log_to"] > first
        # One witness is enough: the post was not asked again.
        assert health["peers"][LAOCAI_BORDER_GUARD]["cosigned_our_log_to"] == first
    finally:
        await pair.close()


def _rewrite(src, dst, *, leaves=None, checkpoints=None, manifest=None):
    with tarfile.open(src) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    if leaves is not None:
        lines = members["leaves.jsonl"].split(b"\n")[:-1]
        members["leaves.jsonl"] = b"".join(x + b"\n" for x in leaves(lines))
    if checkpoints is not None:
        cps = json.loads(members["checkpoints.json"])
        members["checkpoints.json"] = json.dumps(checkpoints(cps)).encode()
    if manifest is not None:
        members["manifest.json"] = json.dumps(manifest(json.loads(members["manifest.json"]))
                                              ).encode()
    with tarfile.open(dst, "w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return dst


def _edit(lines):
    out = list(lines)
    obj = json.loads(out[3])
    obj["t"] += 1  # still canonical, still the same sequence number
    out[3] = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    return out


async def test_every_kind_of_tampering_is_detected(tmp_path):
    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=3600)
    try:
        await _exchange(pair)
        a, _b = await _bundles(pair, tmp_path)
    finally:
        await pair.close()
    ring = pair.net.keyrings[LAOCAI]

    def fork(cps):
        body, _ = split_note(cps[0])
        cp = parse_checkpoint(body)
        return [*cps, make_checkpoint(ring, cp.size, bytes(32), int(time.time() * 1000))]

    def bad_sig(cps):
        note = cps[0]
        i = note.index("\u2014") + 40
        return [note[:i] + ("A" if note[i] != "A" else "B") + note[i + 1:], *cps[1:]]

    cases = {
        "edited": ({"leaves": _edit}, "AUDIT_ENTRY_EDITED"),
        "deleted": ({"leaves": lambda ls: ls[:5] + ls[6:]}, "AUDIT_SEQUENCE_BROKEN"),
        "reordered": ({"leaves": lambda ls: [*ls[:5], ls[6], ls[5], *ls[7:]]},
                      "AUDIT_SEQUENCE_BROKEN"),
        "inserted": ({"leaves": lambda ls: [*ls[:5], ls[4], *ls[5:]]}, "AUDIT_SEQUENCE_BROKEN"),
        "truncated": ({"leaves": lambda ls: ls[:-3]}, "AUDIT_TRUNCATED"),
        "forked": ({"checkpoints": fork}, "AUDIT_FORK"),
        "bad signature": ({"checkpoints": bad_sig}, "AUDIT_BAD_SIGNATURE"),
    }
    for name, (change, expect) in cases.items():
        bad = _rewrite(a, tmp_path / f"{name}.tar", **change)
        report = verify_bundles([bad], pair.net.roots)
        assert not report.ok, name
        assert expect in report.codes, (name, report.problems)
        assert report.exit_code == 1, (name, report.problems)


async def test_rewritten_and_resigned_history_is_caught_by_the_peer_bundle(tmp_path):
    """An operator who truncates their log and re-signs every checkpoint passes alone,
    but the other side's cosigned view exposes it."""
    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=3600)
    try:
        await _exchange(pair)
        a, b = await _bundles(pair, tmp_path)
    finally:
        await pair.close()
    ring = pair.net.keyrings[LAOCAI]
    from gateway.audit.leaves import LEAF_PREFIX
    from gateway.audit.merkle import MemoryTree

    def resign(cps):
        with tarfile.open(a) as tar:
            lines = tar.extractfile("leaves.jsonl").read().split(b"\n")[:-1][:4]
        t = MemoryTree()
        for line in lines:
            t.append_hash(leaf_hash(LEAF_PREFIX + line))
        return [make_checkpoint(ring, 4, t.root(), int(time.time() * 1000))]

    forged = _rewrite(a, tmp_path / "forged.tar", leaves=lambda ls: ls[:4], checkpoints=resign,
                      manifest=lambda m: {**m, "size": 4})
    assert verify_bundles([forged], pair.net.roots).exit_code == 2  # not witnessed: policy
    report = verify_bundles([forged, b], pair.net.roots)
    assert not report.ok
    assert {"AUDIT_TRUNCATED", "AUDIT_SPLIT_VIEW"} & set(report.codes), report.problems
    assert report.exit_code == 1


async def test_witness_refuses_rollback_fork_and_bad_proofs(pair):
    await _exchange(pair)
    hk = pair.gateways[HEKOU]
    held, root = await hk.store.call(hk.store.sync.witness_latest, log_origin(LAOCAI))
    ring = pair.net.keyrings[LAOCAI]
    now = int(time.time() * 1000)
    path = "/peer/v1/witness/add-checkpoint"

    async def submit(old: int, size: int, root: bytes, proof=()):
        note = make_checkpoint(ring, size, root, now)
        body = (f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof)
                + "\n" + note).encode()
        h = sign_request(ring, method="POST", path_qs=path, destination=HEKOU, body=body,
                         now_ms=int(time.time() * 1000))
        async with aiohttp.ClientSession() as s, s.post(pair.peer(HEKOU) + path, data=body,
                                                        headers=h) as r:
            return r.status, await r.text()

    # Rollback: a smaller tree, claiming the size the witness holds.
    status, _ = await submit(held, held - 2, root)
    assert status == 400
    # Rollback while pretending to start over.
    status, text = await submit(0, held - 2, root)
    assert (status, text.strip()) == (409, str(held))
    # Fork: same size, another root.
    status, _ = await submit(held, held, bytes(32))
    assert status == 409
    # Growth with a proof that does not hold.
    status, _ = await submit(held, held + 5, bytes(32), proof=[bytes(32)] * 3)
    assert status == 422
    alerts = {a["kind"] for a in (await hk.health())["audit"]["alerts"]}
    assert {"rollback", "fork", "inconsistent"} <= alerts
    # The honest path still works afterwards.
    await checkpoint_and_witness(pair.gateways[LAOCAI])


async def test_proofs_served_to_peers_verify(pair):
    await _exchange(pair)
    lc = pair.gateways[LAOCAI]
    ring = pair.net.keyrings[HEKOU]
    async with aiohttp.ClientSession() as s:
        async def get(path: str):
            h = sign_request(ring, method="GET", path_qs=path, destination=LAOCAI, body=b"",
                             now_ms=int(time.time() * 1000))
            async with s.get(pair.peer(LAOCAI) + path, headers=h) as r:
                assert r.status == 200, await r.text()
                return await r.text()

        note = await get("/peer/v1/audit/checkpoint")
        body, _ = split_note(note)
        cp = parse_checkpoint(body)
        for index in (0, cp.size // 2, cp.size - 1):
            data = json.loads(await get(f"/peer/v1/audit/inclusion?index={index}&size={cp.size}"))
            from gateway.audit.leaves import LEAF_PREFIX

            verify_inclusion(leaf_hash(LEAF_PREFIX + data["leaf"].encode()), index, cp.size,
                             [base64.b64decode(p) for p in data["proof"]], cp.root)
        old = 3
        old_root = await lc.store.call(lc.store.sync.audit_root, old)
        text = await get(f"/peer/v1/audit/consistency?old={old}&new={cp.size}")
        verify_consistency(old, cp.size, old_root, cp.root,
                           [base64.b64decode(x) for x in text.split()])


async def test_idle_gateways_stop_signing_checkpoints_for_each_other(tmp_path):
    """Witnessing writes to the witness's log (``checkpoint.cosigned``): without care two idle
    gateways sign a checkpoint for each other every round, for ever. Once what the office did
    is witnessed, such records alone sign nothing new (for up to 30 min); the bundles still
    verify (those records may wait as long for their witness); a new message is checkpointed
    and cosigned at once, as before."""
    import asyncio

    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=0.1)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        gws = [pair.gateways[o] for o in (LAOCAI, HEKOU)]

        async def checkpoints() -> list[int]:
            return [(await g.store.call(g.store.sync.latest_checkpoint))["id"] for g in gws]

        async with aiohttp.ClientSession() as s:
            lc = Officer(s, pair.api(LAOCAI), pair.tokens[LAOCAI]["officer"])
            mid = await lc.send([HEKOU], case_payloads()[0].payload.to_dict())

            async def witnessed() -> bool:
                size, _ = await gws[0].store.call(gws[0].store.sync.audit_head)
                st = await lc.status(mid)
                return (st["deliveries"][0]["state"] == "delivered"
                        and await gws[0].store.call(gws[0].store.sync.witnessed_size,
                                                    HEKOU) >= size - 2)
            await wait_for(witnessed, what="the message's leaves cosigned")
            await asyncio.sleep(1.0)  # let the bookkeeping of both sides settle
            before = await checkpoints()
            await asyncio.sleep(2.0)  # 20 rounds: formerly about 20 checkpoints each
            after = await checkpoints()
            assert [b - a for a, b in zip(before, after, strict=True)] == [0, 0]
            a, b = await _bundles(pair, tmp_path)
            report = verify_bundles([a, b], pair.net.roots)
            assert report.ok, report.problems
            # something an office does is checkpointed and witnessed at once
            second = await lc.send([HEKOU], case_payloads()[0].payload.to_dict())
            await lc.wait_delivered(second)

            async def grew() -> bool:
                return (await checkpoints())[0] > after[0]
            await wait_for(grew, what="a checkpoint for the new message")
    finally:
        await pair.close()


async def test_witness_rebase_holds_an_earlier_cosigned_size_again(pair, capfd):
    """``blo-gateway witness rebase`` on both stores: Hekou holds Lào Cai's log at an earlier
    size it cosigned (an audit leaf ``witness.rebased``); Lào Cai's next checkpoint, which
    extends it, is cosigned again; a size it never cosigned is NOT_FOUND."""
    await _exchange(pair)
    add_user(pair.homes[LAOCAI], "clerk0", "auditor")  # a second cosigned size
    await checkpoint_and_witness(pair.gateways[LAOCAI])
    hk = pair.gateways[HEKOU]
    origin = log_origin(LAOCAI)
    held, _ = await hk.store.call(hk.store.sync.witness_latest, origin)
    out = run_cli(capfd, "witness", "rebase", "--home", str(pair.homes[HEKOU]), "--origin",
                  LAOCAI, "--at-most", str(held - 1))
    assert out.returncode == 0 and "witness rebased" in out.stdout, out
    now, _ = await hk.store.call(hk.store.sync.witness_latest, origin)
    assert 0 < now < held
    out = run_cli(capfd, "witness", "rebase", "--home", str(pair.homes[HEKOU]), "--origin",
                  LAOCAI, "--at-most", "0")
    assert out.returncode == 2 and "NOT_FOUND" in out.stdout + out.stderr, out
    add_user(pair.homes[LAOCAI], "clerk", "auditor")  # something new to checkpoint
    await checkpoint_and_witness(pair.gateways[LAOCAI])
    after, _ = await hk.store.call(hk.store.sync.witness_latest, origin)
    assert after > held
    leaves = hk.store.sync.export_audit()["leaves"]
    assert any(b'"type":"witness.rebased"' in leaf for leaf in leaves)
