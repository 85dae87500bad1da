"""Hybrid root keys (docs/wire-format.md §3, §3.3, §3.4): roots with an ML-DSA-65 half sign
directories and root sets with Ed25519 and ML-DSA-65, and a verifier needs both; roots
without one verify as before. The upgrade is a root rotation, installed here on a running
gateway (SQLite and, with GATEWAY_TEST_PG_DSN, PostgreSQL), after which only hybrid-signed
directories are accepted."""

from __future__ import annotations

import base64
import json
import time

import aiohttp
import pytest
from harness import BACKENDS, Pair, admin_headers, error_code, run_cli, wait_for

from gateway.cli.provision import provision
from gateway.protocol.errors import ConfigError
from gateway.protocol.identity import (
    DIRECTORY_DOMAIN,
    Directory,
    Keyring,
    RootSigner,
    TrustRoots,
    build_directory,
    sign_directory,
)
from gateway.protocol.rootset import build_root_set, next_roots, sign_root_set, verify_root_set
from gateway.protocol.scenario import HEKOU, LAOCAI
from gateway.schemas.blo.v1 import directory_pb2

DAY = 24 * 3600 * 1000


def _now() -> int:
    return int(time.time() * 1000)


def _ed_only(signer: RootSigner) -> RootSigner:
    """The same root without its ML-DSA-65 half (someone holding only the Ed25519 key)."""
    return RootSigner(signer.country, signer.secret)


def _directory(directory: Directory, keyrings: dict[str, Keyring], serial: int,
               *signers: RootSigner) -> bytes:
    entries = [keyrings[o].public_office(country=i.country, name_vi=i.name_vi,
                                         name_zh=i.name_zh, role=i.role, endpoint=i.endpoint)
               for o, i in directory.offices.items()]
    now = _now()
    data = build_directory(entries, serial=serial, issued_at_ms=now - DAY,
                           expires_at_ms=now + 300 * DAY)
    for s in signers:
        data = sign_directory(data, s)
    return data


def _edit(signed: bytes, key_id: str, *, drop: bool = False) -> bytes:
    """``signed`` with the signature by ``key_id`` removed, or with one bit of it flipped."""
    outer = directory_pb2.SignedDirectory.FromString(signed)
    sigs = []
    for s in outer.signatures:
        if s.key_id != key_id:
            sigs.append(s)
        elif not drop:
            flipped = bytearray(s.signature)
            flipped[len(flipped) // 2] ^= 1
            sigs.append(directory_pb2.DirectorySignature(key_id=s.key_id,
                                                         signature=bytes(flipped)))
    return directory_pb2.SignedDirectory(directory=outer.directory, signatures=sigs) \
        .SerializeToString(deterministic=True)


@pytest.fixture(scope="module")
def hybrid_net():
    return provision(_now(), post_quantum=True)


def test_hybrid_roots_sign_directories_and_need_both_halves(hybrid_net):
    net, now = hybrid_net, _now()
    vn, cn = net.root_signers
    assert vn.post_quantum and cn.post_quantum
    for r, s in zip(net.roots.roots, net.root_signers, strict=True):
        assert r.pq_key_id == s.pq_key_id and r.pq_key_id.startswith("mldsa65:")
        assert len(r.pq_public_key) == 1952
    outer = directory_pb2.SignedDirectory.FromString(net.directory_bytes)
    assert sorted(s.key_id for s in outer.signatures) == sorted(
        [vn.key_id, vn.pq_key_id, cn.key_id, cn.pq_key_id])
    assert Directory.verify(net.directory_bytes, net.roots, now_ms=now).serial == 1
    # Signing again replaces a root's two signatures rather than adding more.
    again = sign_directory(net.directory_bytes, vn)
    assert len(directory_pb2.SignedDirectory.FromString(again).signatures) == 4
    assert Directory.verify(again, net.roots, now_ms=now).serial == 1
    # Either root's ML-DSA-65 signature removed or flipped; its Ed25519 one removed.
    for signer in (vn, cn):
        missing = _edit(net.directory_bytes, signer.pq_key_id, drop=True)
        with pytest.raises(Exception, match=f"ML-DSA-65 half of the {signer.country} root"):
            Directory.verify(missing, net.roots, now_ms=now)
        assert error_code(lambda d=missing: Directory.verify(d, net.roots, now_ms=now)) \
            == "BAD_DIRECTORY"
        flipped = _edit(net.directory_bytes, signer.pq_key_id)
        assert error_code(lambda d=flipped: Directory.verify(d, net.roots, now_ms=now)) \
            == "BAD_DIRECTORY"
        no_ed = _edit(net.directory_bytes, signer.key_id, drop=True)
        with pytest.raises(Exception, match=f"Ed25519 half of the {signer.country} root"):
            Directory.verify(no_ed, net.roots, now_ms=now)
    # Signed with the Ed25519 halves only (as before hybrid roots): refused.
    d = net.directory()
    ed_only = _directory(d, net.keyrings, 2, _ed_only(vn), _ed_only(cn))
    assert error_code(lambda: Directory.verify(ed_only, net.roots, now_ms=now)) \
        == "BAD_DIRECTORY"
    # An ML-DSA-65 signature by a key that is no root's: refused (UnknownRoot).
    stranger = RootSigner.generate("VN", post_quantum=True)
    extra = outer.signatures.add()
    extra.key_id = stranger.pq_key_id
    extra.signature = stranger.signatures(DIRECTORY_DOMAIN + outer.directory)[1].signature
    with pytest.raises(Exception, match="not a trust root"):
        Directory.verify(outer.SerializeToString(deterministic=True), net.roots, now_ms=now)


def test_mixed_offices_keep_ed25519_roots_which_verify_as_before():
    net = provision(_now(), post_quantum={LAOCAI})
    assert not any(r.pq_key_id or r.pq_public_key for r in net.roots.roots)
    assert "pq_" not in net.roots.to_json()
    outer = directory_pb2.SignedDirectory.FromString(net.directory_bytes)
    assert len(outer.signatures) == 2
    assert net.directory().serial == 1


def test_roots_json_and_root_key_file(hybrid_net, tmp_path, capfd):
    net = hybrid_net
    text = net.roots.to_json()
    assert '"pq_key_id": "mldsa65:' in text and '"pq_public_key"' in text
    assert TrustRoots.from_json(text) == net.roots
    data = json.loads(text)
    data["roots"][0]["pq_key_id"] = net.roots.roots[1].pq_key_id
    with pytest.raises(ConfigError, match="ML-DSA-65 key id"):
        TrustRoots.from_json(json.dumps(data))
    data = json.loads(text)
    data["roots"][0]["pq_public_key"] = base64.b64encode(b"\x01" * 32).decode()
    with pytest.raises(ConfigError, match="ML-DSA-65 key id"):
        TrustRoots.from_json(json.dumps(data))
    # The root key file holds the ML-DSA-65 seed too, mode 0600, and loads back.
    vn = net.root_signers[0]
    path = tmp_path / "root-vn.key.json"
    vn.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "pq_secret" in json.loads(path.read_text())
    assert RootSigner.load(path) == vn
    # The command line: keys root-create --post-quantum makes a hybrid root.
    private, roots = tmp_path / "root-cn.key.json", tmp_path / "new-cn-root.json"
    r = run_cli(capfd, "keys", "root-create", "--country", "CN", "--private", str(private),
                "--roots", str(roots), "--post-quantum")
    assert r.returncode == 0 and "ML-DSA-65 half mldsa65:" in r.stdout, r.stderr
    assert private.stat().st_mode & 0o777 == 0o600
    signer = RootSigner.load(private)
    (root,) = TrustRoots.load(roots, require_both=False).roots
    assert signer.post_quantum and root.pq_key_id == signer.pq_key_id
    # ... and roots build / sign / verify rotate Ed25519 roots to hybrid ones as today.
    old = provision(_now())
    (tmp_path / "roots.json").write_text(old.roots.to_json(), encoding="utf-8")
    keys = []
    for s in old.root_signers:
        s.save(tmp_path / f"old-{s.country}.key.json")
        keys.append(tmp_path / f"old-{s.country}.key.json")
    vn_private, vn_roots = tmp_path / "root-vn.new.key.json", tmp_path / "new-vn-root.json"
    assert run_cli(capfd, "keys", "root-create", "--country", "VN", "--private",
                   str(vn_private), "--roots", str(vn_roots), "--post-quantum").returncode == 0
    keys += [vn_private, private]
    rs = tmp_path / "roots-v2.bin"
    r = run_cli(capfd, "roots", "build", "--roots", str(tmp_path / "roots.json"), "--new",
                str(vn_roots), "--new", str(roots), "--out", str(rs))
    assert r.returncode == 0 and r.stdout.count("ML-DSA-65 half") == 2, r.stdout + r.stderr
    for k in keys[:3]:
        assert run_cli(capfd, "roots", "sign", str(rs), "--root-key", str(k)).returncode == 0
    r = run_cli(capfd, "roots", "verify", str(rs), "--roots", str(tmp_path / "roots.json"))
    assert r.returncode == 2 and "ML-DSA-65" not in r.stderr and "CN" in r.stderr, r.stderr
    assert run_cli(capfd, "roots", "sign", str(rs), "--root-key", str(keys[3])).returncode == 0
    r = run_cli(capfd, "roots", "verify", str(rs), "--roots", str(tmp_path / "roots.json"),
                "--out", str(tmp_path / "roots-v2.json"))
    assert r.returncode == 0, r.stderr
    new = TrustRoots.load(tmp_path / "roots-v2.json")
    assert new.version == 2 and {x.pq_key_id for x in new.roots} == {
        RootSigner.load(vn_private).pq_key_id, signer.pq_key_id}


def test_rotation_to_hybrid_roots_and_on_from_them(hybrid_net):
    old = provision(_now())
    vn, cn = old.root_signers
    vn2, cn2 = (RootSigner.generate(c, post_quantum=True) for c in ("VN", "CN"))
    new = next_roots(old.roots, [vn2.root_key(), cn2.root_key()])
    unsigned = build_root_set(new)
    full = unsigned
    for s in (vn, cn, vn2, cn2):
        full = sign_root_set(full, s)
    assert verify_root_set(full, old.roots) == new
    # A new hybrid root that signs with its Ed25519 key only has not signed.
    half = unsigned
    for s in (vn, cn, _ed_only(vn2), cn2):
        half = sign_root_set(half, s)
    with pytest.raises(Exception, match="ML-DSA-65 half of the VN root"):
        verify_root_set(half, old.roots)
    flipped = directory_pb2.SignedTrustRoots.FromString(full)
    for s in flipped.signatures:
        if s.key_id == cn2.pq_key_id:
            s.signature = s.signature[:-1] + bytes([s.signature[-1] ^ 1])
    assert error_code(lambda: verify_root_set(flipped.SerializeToString(), old.roots)) \
        == "BAD_ROOTS"
    # From hybrid roots on, the current roots must sign with both halves too.
    cur = hybrid_net
    hvn, hcn = cur.root_signers
    vn3 = RootSigner.generate("VN", post_quantum=True)
    step = build_root_set(next_roots(cur.roots, [vn3.root_key()]))
    ed_signed = step
    for s in (_ed_only(hvn), hcn, vn3):
        ed_signed = sign_root_set(ed_signed, s)
    assert error_code(lambda: verify_root_set(ed_signed, cur.roots)) == "BAD_ROOTS"
    for s in (hvn, hcn, vn3):
        step = sign_root_set(step, s)
    assert verify_root_set(step, cur.roots).version == 2


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path / "net", request.param)
    yield p
    await p.close()


async def test_rotation_to_hybrid_roots_on_running_gateways(pair):
    """Ed25519 roots → hybrid roots installed into running Lào Cai; Hekou takes it from its
    peer; then a directory signed by the Ed25519 halves only is refused, a hybrid one taken."""
    vn, cn = pair.net.root_signers
    vn2, cn2 = (RootSigner.generate(c, post_quantum=True) for c in ("VN", "CN"))
    root_set = build_root_set(next_roots(pair.net.roots, [vn2.root_key(), cn2.root_key()]))
    for s in (vn, cn, vn2, cn2):
        root_set = sign_root_set(root_set, s)
    d = pair.net.directory()
    directory = _directory(d, pair.net.keyrings, 2, vn2, cn2)
    h = admin_headers(pair.homes[LAOCAI])
    lc, hk = await pair.start(LAOCAI), await pair.start(HEKOU)
    body = {"root_set": base64.b64encode(root_set).decode(),
            "directory": base64.b64encode(directory).decode()}
    async with aiohttp.ClientSession() as session:
        async with session.put(pair.api(LAOCAI) + "/api/v1/roots", json=body, headers=h) as r:
            data = await r.json()
            assert r.status == 200 and data["roots_version"] == 2, data

        async def hekou_rotated() -> bool:
            return hk.roots.version == 2 and hk.directory.serial == 2
        await wait_for(hekou_rotated, timeout=40, what="Hekou to take the hybrid roots")
        assert all(r.pq_key_id for r in hk.roots.roots)
        assert TrustRoots.load(pair.homes[HEKOU] / "roots.json") == lc.roots

        ed_only = _directory(d, pair.net.keyrings, 3, _ed_only(vn2), _ed_only(cn2))
        async with session.put(pair.api(LAOCAI) + "/api/v1/directory", data=ed_only,
                               headers=h) as r:
            data = await r.json()
            assert (r.status, data["code"]) == (400, "BAD_DIRECTORY"), data
            assert "ML-DSA-65 half" in data["message"]
        mixed = _directory(d, pair.net.keyrings, 3, vn2, _ed_only(cn2))
        async with session.put(pair.api(LAOCAI) + "/api/v1/directory", data=mixed,
                               headers=h) as r:
            data = await r.json()
            assert (r.status, data["code"]) == (400, "BAD_DIRECTORY"), data
            assert "ML-DSA-65 half of the CN root" in data["message"]
        assert lc.directory.serial == 2
        hybrid = _directory(d, pair.net.keyrings, 3, vn2, cn2)
        async with session.put(pair.api(LAOCAI) + "/api/v1/directory", data=hybrid,
                               headers=h) as r:
            data = await r.json()
            assert r.status == 200 and data["serial"] == 3, data

        async def hekou_has_3() -> bool:
            return hk.directory.serial == 3
        await wait_for(hekou_has_3, timeout=40, what="Hekou to take serial 3")
