"""The courier bundle: two real gateway processes with the border link cut, messages both ways
on "removable media" (bundle files through ``blo-gateway courier``), receipts back the same
way, then the link restored: nothing lost, nothing twice, every send matched with a receipt
in both audit bundles, verified offline. And the refusals, with real bundle files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import struct
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import nacl.signing
import pytest
from harness import BACKENDS, PG_DSN, Pair, load_script

from gateway.audit.verify import verify_bundles
from gateway.cli.demo import free_port
from gateway.node.bundle import export_bundle
from gateway.node.config import load_config, render_config
from gateway.node.home import add_user
from gateway.protocol import courier, envelope
from gateway.protocol.errors import GatewayError, Replay, StaleBundle, WrongDestination
from gateway.protocol.identity import Directory, TrustRoots
from gateway.protocol.receipt import make_receipt
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

chaos = load_script(Path(__file__).parents[1] / "tools" / "chaos.py", "blo_chaos_tool")


def blo(*args: str | Path) -> tuple[int, str, str]:
    """``blo-gateway`` in its own process, as an operator runs it."""
    p = subprocess.run([sys.executable, "-m", "gateway", *map(str, args)],
                       capture_output=True, text=True, timeout=300, check=False)
    return p.returncode, p.stdout, p.stderr


def refused(code: str, *args: str | Path) -> None:
    rc, out, err = blo(*args)
    assert rc == 2 and err.startswith(f"error {code}:"), (rc, out, err)


def leaf_types(bundle: Path) -> Counter[str]:
    with tarfile.open(bundle) as tar:
        f = tar.extractfile("leaves.jsonl")
        assert f is not None
        return Counter(json.loads(line)["type"] for line in f.read().splitlines())


def delivered(client, mids: list[str]) -> bool:
    return all(client.status(m)["deliveries"][0]["state"] == "delivered" for m in mids)


def link_up(home: Path) -> None:
    """Restore the link: the peer's address from the directory again."""
    cfg = load_config(home)
    (home / "gateway.toml").write_text(render_config(dataclasses.replace(cfg, peer_urls={})),
                                       encoding="utf-8")


@pytest.fixture(params=BACKENDS)
def dsn(request) -> str:
    return PG_DSN if request.param == "postgres" else ""


def test_courier_round_trip_with_the_link_cut(tmp_path: Path, dsn: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the link is cut
    cluster = chaos.Cluster(tmp_path, (LAOCAI, HEKOU), dsn,
                            peer_urls={LAOCAI: {HEKOU: nowhere}, HEKOU: {LAOCAI: nowhere}})
    lc_home, hk_home = cluster.procs[LAOCAI].home, cluster.procs[HEKOU].home
    for home in (lc_home, hk_home):
        add_user(home, "admin", "admin")
    lc, hk = cluster.clients[LAOCAI], cluster.clients[HEKOU]
    try:
        cluster.start(LAOCAI)
        cluster.start(HEKOU)
        canary = "Canary" + secrets.token_hex(6)  # an invented name, in no file in clear
        to_hk = chaos.canary_payload(canary)  # Lào Cai's repatriation notice
        to_lc = case_payloads()[2].payload.to_dict()  # Hekou's identification request
        sent_lc = [lc.send([HEKOU], to_hk)["message_id"] for _ in range(12)]
        sent_hk = [hk.send([LAOCAI], to_lc)["message_id"] for _ in range(5)]

        # Lào Cai -> stick -> Hekou, and Hekou's return bundle -> stick -> Lào Cai, and back.
        b1, r1, r2 = tmp_path / "lc-1.blob", tmp_path / "hk-1.blob", tmp_path / "lc-2.blob"
        rc, out, err = blo("courier", "export", "--home", lc_home, "--to", HEKOU, "--out", b1)
        assert rc == 0, err
        assert "bundle 1 for cn.yunnan.hekou.blo: 12 envelopes" in out
        raw1 = b1.read_bytes()

        # Refused before anything is stored: not for this office, altered anywhere, too large.
        refused("WRONG_DESTINATION", "courier", "import", b1, "--home", lc_home)
        for pos in (70, len(raw1) // 2, len(raw1) - 3):  # manifest, an envelope, the last
            bad = tmp_path / f"flipped-{pos}.blob"
            bad.write_bytes(raw1[:pos] + bytes([raw1[pos] ^ 0x01]) + raw1[pos + 1:])
            refused("BAD_SIGNATURE", "courier", "import", bad, "--home", hk_home)
        assert chaos.inbox_ids(hk_home) == []

        rc, out, err = blo("courier", "import", b1, "--home", hk_home, "--return-out", r1)
        assert rc == 0, err
        assert "bundle 1 from vn.laocai.blo imported: 12 new, 0 already held, 0 refused" in out
        assert "return bundle 1 for vn.laocai.blo: 5 envelopes, 12 receipts" in out
        assert sorted(chaos.inbox_ids(hk_home)) == sorted(sent_lc)

        # The same bundle again: refused, and nothing changes.
        size = hk.health()["audit"]["size"]
        refused("REPLAY", "courier", "import", b1, "--home", hk_home)
        assert hk.health()["audit"]["size"] == size
        assert len(chaos.inbox_ids(hk_home)) == 12

        rc, out, err = blo("courier", "import", r1, "--home", lc_home, "--return-out", r2,
                           "--json")
        assert rc == 0, err
        res = json.loads(out)
        assert res["imported"]["receipts"] == {"delivered": 12, "ignored": 0}
        assert res["imported"]["envelopes"] == {"accepted": 5, "duplicate": 0, "refused": 0}
        assert res["imported"]["cosignatures_accepted"] == 1  # Hekou witnessed our log
        assert res["returned"]["receipts"] == 5 and res["returned"]["envelopes"] == 0
        assert delivered(lc, sent_lc)
        assert lc.health()["peers"][HEKOU]["cosigned_our_log_to"] > 0

        rc, out, err = blo("courier", "import", r2, "--home", hk_home)
        assert rc == 0, err
        assert "5 of our messages now delivered" in out
        assert "1 cosignatures kept" in out
        assert delivered(hk, sent_hk)
        assert hk.health()["peers"][LAOCAI]["cosigned_our_log_to"] > 0

        # An older bundle than the last imported is refused: 3 and 4 written, 4 imported first.
        late = lc.send([HEKOU], to_hk)["message_id"]
        b3, b4 = tmp_path / "lc-3.blob", tmp_path / "lc-4.blob"
        for b in (b3, b4):
            assert blo("courier", "export", "--home", lc_home, "--to", HEKOU, "--out", b)[0] == 0
        rc, out, err = blo("courier", "import", b4, "--home", hk_home)
        assert rc == 0 and "1 new, 0 already held" in out, (out, err)
        refused("STALE_BUNDLE", "courier", "import", b3, "--home", hk_home)
        refused("REPLAY", "courier", "import", b4, "--home", hk_home)

        # Sent while the link is still down, never carried: the link takes it when it is back.
        after = [lc.send([HEKOU], to_hk)["message_id"] for _ in range(3)]
        for office in (LAOCAI, HEKOU):
            cluster.procs[office].stop()
            link_up(cluster.procs[office].home)
            cluster.start(office)
        everything = [*sent_lc, late, *after]
        chaos.wait_until(lambda: delivered(lc, everything), 60, "every receipt")
        assert delivered(hk, sent_hk)
        hk_inbox, lc_inbox = chaos.inbox_ids(hk_home), chaos.inbox_ids(lc_home)
        assert sorted(hk_inbox) == sorted(everything)  # 0 lost, 0 duplicated
        assert sorted(lc_inbox) == sorted(sent_hk)

        # Both audit logs, exported and verified offline: every send matched with a receipt.
        for office, other in ((LAOCAI, HEKOU), (HEKOU, LAOCAI)):
            chaos.wait_until(lambda o=office, p=other: chaos._cosigned(cluster, o, p), 60,
                             f"{other} cosigning {office}")
        bundles = [tmp_path / "audit-lc.tar", tmp_path / "audit-hk.tar"]
        export_bundle(lc_home, bundles[0])
        export_bundle(hk_home, bundles[1])
        report = verify_bundles(bundles, cluster.net.roots)
        assert report.ok, report.problems
        assert report.matching[f"{LAOCAI}->{HEKOU} matched"] == len(everything)
        assert report.matching[f"{HEKOU}->{LAOCAI} matched"] == len(sent_hk)
        assert report.matching[f"{LAOCAI}->{HEKOU} pending"] == 0
        assert report.matching[f"{HEKOU}->{LAOCAI} pending"] == 0
        lc_leaves, hk_leaves = leaf_types(bundles[0]), leaf_types(bundles[1])
        assert lc_leaves["courier.exported"] == 4 and lc_leaves["courier.imported"] == 1
        assert hk_leaves["courier.exported"] == 1 and hk_leaves["courier.imported"] == 3
        # The bundles, the homes (databases, logs) and the audit bundles: ciphertext only.
        clear = [p for p in tmp_path.rglob("*")
                 if p.is_file() and canary.encode() in p.read_bytes()]
        assert clear == []
        assert canary in json.dumps(hk.show(everything[0]), ensure_ascii=False)
    finally:
        cluster.close()


# ------------------------------------------------------------------------- the format alone

def _bundle(net, now_ms: int, **kw) -> bytes:
    sealed = envelope.seal(case_payloads()[5].payload, sender=net.keyrings[LAOCAI],
                           recipients=[HEKOU], directory=net.directory(), now_ms=now_ms)
    receipt = make_receipt(net.keyrings[LAOCAI], message_id=b"\x01" * 16, sender=HEKOU,
                           envelope_sha256=b"\x02" * 32, received_at_ms=now_ms)
    args = {"destination": HEKOU, "sequence": 1, "created_at_ms": now_ms, "ack_sequence": 0,
            "items": [("envelope", sealed), ("receipt", receipt)], **kw}
    return courier.make_bundle(net.keyrings[LAOCAI], **args)


def test_a_flipped_bit_anywhere_is_refused(net, now_ms: int) -> None:
    data = _bundle(net, now_ms)
    d = net.directory()
    b = courier.verify_bundle(data, d, me=HEKOU, now_ms=now_ms)
    assert (b.issuer, b.destination, b.sequence, len(b.items)) == (LAOCAI, HEKOU, 1, 2)
    codes = Counter()
    for pos in range(len(data)):
        for bit in (0x01, 0x80):
            bad = data[:pos] + bytes([data[pos] ^ bit]) + data[pos + 1:]
            try:
                courier.verify_bundle(bad, d, me=HEKOU, now_ms=now_ms)
            except GatewayError as e:
                codes[e.code] += 1
            else:
                raise AssertionError(f"flipped bit {bit:#x} at byte {pos} was accepted")
    assert set(codes) <= {"MALFORMED", "UNSUPPORTED_VERSION", "UNKNOWN_KEY", "BAD_SIGNATURE",
                          "TOO_LARGE"}, codes
    for cut in (0, 10, len(data) - 1):
        with pytest.raises(GatewayError):
            courier.verify_bundle(data[:cut], d, me=HEKOU, now_ms=now_ms)
    with pytest.raises(GatewayError):
        courier.verify_bundle(data + b"\x00", d, me=HEKOU, now_ms=now_ms)


def test_destination_signer_and_size(net, now_ms: int) -> None:
    d = net.directory()
    data = _bundle(net, now_ms)
    with pytest.raises(WrongDestination):
        courier.verify_bundle(data, d, me=LAOCAI_BORDER_GUARD, now_ms=now_ms)
    with pytest.raises(GatewayError, match="over 100 bytes"):
        courier.verify_bundle(data, d, me=HEKOU, now_ms=now_ms, max_size=100)
    # Hekou's own bundle "to Hekou" is not for Lào Cai, whoever signed it.
    own = courier.make_bundle(net.keyrings[HEKOU], destination=HEKOU, sequence=1,
                              created_at_ms=now_ms, ack_sequence=0, items=[])
    for me in (LAOCAI, HEKOU):  # not for Lào Cai; and not from another office for Hekou
        with pytest.raises(WrongDestination):
            courier.verify_bundle(own, d, me=me, now_ms=now_ms)
    assert issubclass(StaleBundle, Replay) and StaleBundle.code == "STALE_BUNDLE"


# ---------------------------------------------------------- in one process: the size limit

@pytest.fixture(params=BACKENDS)
async def cut_pair(request, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    p = Pair(tmp_path, request.param, peer_urls={LAOCAI: nowhere, HEKOU: nowhere})
    for office in (LAOCAI, HEKOU):
        p.tokens[office]["admin"] = add_user(p.homes[office], "admin", "admin").read_text().strip()
    yield p
    await p.close()


async def _export(s, pair: Pair, office: str, to: str, max_bytes: int | None = None
                  ) -> tuple[bytes, dict]:
    body = {"to": to} if max_bytes is None else {"to": to, "max_bytes": max_bytes}
    async with s.post(pair.api(office) + "/api/v1/courier/export", json=body, headers={
            "Authorization": f"Bearer {pair.tokens[office]['admin']}"}) as r:
        assert r.status == 200, await r.text()
        return await r.read(), json.loads(r.headers["BLO-Courier"])


async def _import(s, pair: Pair, office: str, data: bytes, user: str = "admin") -> dict:
    async with s.post(pair.api(office) + "/api/v1/courier/import", data=data, headers={
            "Authorization": f"Bearer {pair.tokens[office][user]}"}) as r:
        return {"status": r.status, **await r.json()}


async def test_what_does_not_fit_goes_in_the_next_bundle(cut_pair: Pair) -> None:
    pair = cut_pair
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    async with aiohttp.ClientSession() as s:
        lc = pair.officer(s, LAOCAI)
        sent = [await lc.send([HEKOU], case_payloads()[9].payload.to_dict()) for _ in range(4)]
        one, s1 = await _export(s, pair, LAOCAI, HEKOU)
        size = s1["bytes"] // 4  # roughly one envelope and its share of the rest
        first, a = await _export(s, pair, LAOCAI, HEKOU, max_bytes=3 * size)
        second, b = await _export(s, pair, LAOCAI, HEKOU, max_bytes=3 * size)
        assert 1 <= a["envelopes"] < 4 and a["left_queued"] == 4 - a["envelopes"]
        assert len(first) <= 3 * size and len(second) <= 3 * size
        assert (a["sequence"], b["sequence"]) == (2, 3)
        # Only an officer's token: not allowed to carry the link.
        assert (await _import(s, pair, HEKOU, second, user="officer"))["code"] == "FORBIDDEN"
        got = await _import(s, pair, HEKOU, first)
        assert got["envelopes"]["accepted"] == a["envelopes"]
        got = await _import(s, pair, HEKOU, second)
        # The second bundle put first what the first did not carry.
        assert got["envelopes"]["accepted"] == b["envelopes"] >= 1
        stale = await _import(s, pair, HEKOU, one)
        assert (stale["status"], stale["code"]) == (409, "STALE_BUNDLE")
        # Everything is still queued at Lào Cai (no receipt came back): the next bundle
        # carries all of it again, and Hekou recognises what it holds.
        again, c = await _export(s, pair, LAOCAI, HEKOU)
        got = await _import(s, pair, HEKOU, again)
        held = a["envelopes"] + b["envelopes"]
        assert got["envelopes"] == {"accepted": 4 - held, "duplicate": held, "refused": 0}
        back, r = await _export(s, pair, HEKOU, LAOCAI)
        assert (r["receipts"], r["ack_sequence"]) == (4, c["sequence"])
        got = await _import(s, pair, LAOCAI, back)
        assert got["receipts"] == {"delivered": 4, "ignored": 0}
        for mid in sent:
            assert (await lc.status(mid))["deliveries"][0]["state"] == "delivered"
        # Lào Cai's next bundle acknowledges Hekou's: Hekou stops carrying those receipts.
        ack, _ = await _export(s, pair, LAOCAI, HEKOU)
        await _import(s, pair, HEKOU, ack)
        _, r2 = await _export(s, pair, HEKOU, LAOCAI)
        assert r2["receipts"] == 0 and r2["envelopes"] == 0


async def test_each_envelope_gets_the_peer_apis_checks(cut_pair: Pair) -> None:
    """A bundle signed by Lào Cai is only a transport: an envelope in it that Lào Cai did not
    send, one not addressed to Hekou, one expired or garbled is refused on its own (with the
    peer API's code and an audit leaf), and the others are stored."""
    pair, net = cut_pair, cut_pair.net
    await pair.start(HEKOU)
    d, now = net.directory(), int(time.time() * 1000)
    notice = case_payloads()[9].payload

    def sealed(sender: str, to: str, **kw) -> bytes:
        return envelope.seal(notice, sender=net.keyrings[sender], recipients=[to],
                             directory=d, now_ms=kw.pop("now_ms", now), **kw)

    good = sealed(LAOCAI, HEKOU)
    items = [("envelope", good),
             ("envelope", sealed(LAOCAI_BORDER_GUARD, HEKOU)),  # relayed
             ("envelope", sealed(LAOCAI, LAOCAI_BORDER_GUARD)),  # not for Hekou
             ("envelope", sealed(LAOCAI, HEKOU, now_ms=now - 3_600_000, ttl_ms=60_000)),
             ("envelope", good[:-1] + bytes([good[-1] ^ 1])),  # its own signature broken
             ("envelope", b"BLOE\x01\x01")]
    data = courier.make_bundle(net.keyrings[LAOCAI], destination=HEKOU, sequence=1,
                               created_at_ms=now, ack_sequence=0, items=items)
    async with aiohttp.ClientSession() as s:
        got = await _import(s, pair, HEKOU, data)
    assert got["envelopes"] == {"accepted": 1, "duplicate": 0, "refused": 5}
    assert [(r["index"], r["code"]) for r in got["refused"]] == [
        (1, "BAD_SIGNATURE"), (2, "NOT_A_RECIPIENT"), (3, "EXPIRED"), (4, "BAD_SIGNATURE"),
        (5, "MALFORMED")]
    leaves = pair.gateways[HEKOU].store.sync.export_audit()["leaves"]
    types = Counter(json.loads(x)["type"] for x in leaves)
    assert types["envelope.rejected"] == 5 and types["envelope.received"] == 1
    assert types["courier.imported"] == 1


# ------------------------------------------------------------------ known-answer vectors

VECTORS = Path(__file__).parent / "vectors" / "courier"


def test_vectors_regenerate_identically(tmp_path: Path) -> None:
    generate = load_script(VECTORS / "generate.py", "courier_vectors_generate")
    generate.write(tmp_path)
    kept = sorted(p.name for p in VECTORS.glob("*.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
    for name in kept:
        assert (tmp_path / name).read_bytes() == (VECTORS / name).read_bytes(), name


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.json")), ids=lambda p: p.stem)
def test_vector_through_the_api(path: Path) -> None:
    vec = json.loads(path.read_text(encoding="utf-8"))
    roots = TrustRoots.from_json(json.dumps(vec["roots_json"]))
    at = vec["verify_at_ms"]
    d = Directory.verify(bytes.fromhex(vec["directory_hex"]), roots, now_ms=at)
    try:
        b = courier.verify_bundle(bytes.fromhex(vec["bundle_hex"]), d, me=vec["me"], now_ms=at)
    except GatewayError as e:
        assert e.code == vec["expect"]
        return
    assert vec["expect"] == "OK"
    assert [(k, x.hex()) for k, x in b.items] == [(i["kind"], i["hex"]) for i in vec["items"]]


def test_vector_decoded_by_hand_from_the_spec() -> None:
    """A second, minimal reading of docs/wire-format.md §13 agrees with the vector."""
    vec = json.loads((VECTORS / "laocai-to-hekou.json").read_text(encoding="utf-8"))
    data = bytes.fromhex(vec["bundle_hex"])
    magic, version, suite, k = struct.unpack_from(">4sBBB", data)
    assert (magic, version, suite) == (b"BLOC", 1, 1)
    kid = data[7:7 + k].decode("ascii")
    (m,) = struct.unpack_from(">I", data, 7 + k)
    manifest = data[11 + k:11 + k + m]
    signed = b"blo-gateway/courier/v1\x00" + data[:11 + k + m]
    assert hashlib.sha256(signed).hexdigest() == vec["signed_message_sha256_hex"]
    pk = bytes.fromhex(vec["signer_public_hex"])
    digest = hashlib.sha256(b"blo-gateway/key-id/v1\x00" + b"ed25519" + b"\x00" + pk)
    assert kid == "ed25519:" + digest.digest()[:16].hex() == vec["signer_key_id"]
    nacl.signing.VerifyKey(pk).verify(signed, data[11 + k + m:11 + k + m + 64])
    obj = json.loads(manifest)
    assert manifest == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    assert (obj["issuer"], obj["destination"], obj["sequence"], obj["ack_sequence"]) == (
        LAOCAI, HEKOU, 7, 2)
    pos = 11 + k + m + 64
    for (kind, sha, length), item in zip(obj["items"], vec["items"], strict=True):
        (n,) = struct.unpack_from(">I", data, pos)
        blob = data[pos + 4:pos + 4 + n]
        assert (kind, sha, length) == (item["kind"], hashlib.sha256(blob).hexdigest(), n)
        assert blob.hex() == item["hex"]
        pos += 4 + n
    assert pos == len(data)
