"""Key ceremonies on live gateways: the root-rotation rules (docs/wire-format.md §3.4), and
deploy/key-ceremony.sh run step by step against two running gateways (office key rotation,
root rotation, revocation) while messages flow both ways, checking after each step that every
message is delivered and opens. SQLite and, with GATEWAY_TEST_PG_DSN, PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from harness import BACKENDS, Pair, admin_headers, error_code, ping_as, run_cli, wait_for

from gateway.cli.provision import office_json, provision
from gateway.protocol import envelope
from gateway.protocol.identity import (
    Directory,
    Keyring,
    RootSigner,
    TrustRoots,
    build_directory,
    sign_directory,
)
from gateway.protocol.rootset import (
    build_root_set,
    next_roots,
    read_root_set,
    sign_root_set,
    verify_root_set,
)
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "key-ceremony.sh"
DAY = 24 * 3600 * 1000


def _now() -> int:
    return int(time.time() * 1000)


def _directory_signed_by(net_dir: Directory, keyrings: dict[str, Keyring], serial: int,
                         *signers: RootSigner) -> bytes:
    entries = [keyrings[o].public_office(country=i.country, name_vi=i.name_vi,
                                         name_zh=i.name_zh, role=i.role, endpoint=i.endpoint)
               for o, i in net_dir.offices.items()]
    now = _now()
    data = build_directory(entries, serial=serial, issued_at_ms=now - DAY,
                           expires_at_ms=now + 300 * DAY)
    for s in signers:
        data = sign_directory(data, s)
    return data


def test_root_set_rules():
    net = provision(_now())
    vn, cn = net.root_signers
    vn2 = RootSigner.generate("VN")
    new = next_roots(net.roots, [vn2.root_key("Khóa gốc Việt Nam 2", "越南根密钥 2")])
    assert new.version == 2 and {r.key_id for r in new.roots} == {vn2.key_id, cn.key_id}
    unsigned = build_root_set(new)
    full = sign_root_set(sign_root_set(sign_root_set(unsigned, vn), cn), vn2)
    assert read_root_set(unsigned) == new
    assert verify_root_set(full, net.roots) == new
    assert verify_root_set(full, new) is new  # the same set again: no change

    def refused(data: bytes, current: TrustRoots = net.roots) -> str:
        return error_code(lambda: verify_root_set(data, current))

    # Signed by one current root only (with or without the new one): refused.
    assert refused(sign_root_set(sign_root_set(unsigned, vn), vn2)) == "BAD_ROOTS"
    assert refused(sign_root_set(sign_root_set(unsigned, cn), vn2)) == "BAD_ROOTS"
    # Both current roots but not the new one: refused (the new key must be usable).
    assert refused(sign_root_set(sign_root_set(unsigned, vn), cn)) == "BAD_ROOTS"
    # A stranger's signature, a forged one, bytes changed, not a root set, too large.
    stranger = RootSigner.generate("CN")
    assert refused(sign_root_set(full, stranger)) == "BAD_ROOTS"
    forged = bytearray(full)
    forged[-5] ^= 1
    assert refused(bytes(forged)) == "BAD_ROOTS"
    assert refused(b"\x0a\x03abc") == "BAD_ROOTS"
    assert refused(b"x" * 70_000) == "BAD_ROOTS"
    # Rollback: version 1 again, even signed by every root in force and every root it names.
    back = build_root_set(TrustRoots(net.roots.roots, 1))
    for s in (vn, cn, vn2):
        back = sign_root_set(back, s)
    code = error_code(lambda: verify_root_set(back, new))
    assert code == "BAD_ROOTS"
    with pytest.raises(Exception, match="rollback"):
        verify_root_set(back, new)
    # A version that skips one is refused (rotations chain).
    skip = build_root_set(TrustRoots(new.roots, 3))
    for s in (vn, cn, vn2):
        skip = sign_root_set(skip, s)
    assert refused(skip) == "BAD_ROOTS"

    # Directories: under the new roots, one signed by the retired VN root is refused, one
    # signed by the new VN root and the CN root verifies; v1 directories still verify
    # under v1 roots.
    d = net.directory()
    old_signed = _directory_signed_by(d, net.keyrings, 2, vn, cn)
    new_signed = _directory_signed_by(d, net.keyrings, 2, vn2, cn)
    now = _now()
    assert error_code(lambda: Directory.verify(old_signed, new, now_ms=now)) == "BAD_DIRECTORY"
    assert Directory.verify(new_signed, new, now_ms=now).serial == 2
    assert error_code(lambda: Directory.verify(new_signed, net.roots, now_ms=now)) \
        == "BAD_DIRECTORY"
    assert Directory.verify(net.directory_bytes, net.roots, now_ms=now).serial == 1
    # roots.json: version 1 is written as before (no version field), version 2 round-trips.
    assert "version" not in net.roots.to_json()
    assert TrustRoots.from_json(new.to_json()) == new


# --------------------------------------------------------------------------- live ceremony


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path / "net", request.param)
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def _ceremony_folder(pair: Pair, folder: Path) -> Path:
    """What the two sides bring: roots, directory, public office entries, root keys."""
    pair.net.write(folder)
    for f in (folder / "private").glob("*.keyring.json"):
        f.unlink()  # the office keyrings live in the gateways' homes
    (folder / "offices").mkdir()
    for office in pair.net.keyrings:
        (folder / "offices" / f"{office}.office.json").write_text(
            office_json(pair.net, office), encoding="utf-8")
    return folder


async def _script(step: str, folder: Path, pair: Pair) -> str:
    env = {**os.environ, "BLO_GATEWAY": str(Path(sys.executable).parent / "blo-gateway")}
    proc = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPT), step, str(folder), LAOCAI, str(pair.homes[LAOCAI]),
        str(pair.homes[HEKOU]), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    t0 = time.monotonic()
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    text = out.decode() + err.decode()
    assert proc.returncode == 0, text
    print(f"key-ceremony.sh {step}: {time.monotonic() - t0:.1f} s")  # shown with -s
    return text


class Traffic:
    """Messages both ways, one pair a second, while a ceremony step runs."""

    def __init__(self, pair: Pair, session: aiohttp.ClientSession) -> None:
        self.lc, self.hk = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
        self.sent: list[tuple[str, str]] = []  # (receiver, message id)
        self.payload = case_payloads()[1].payload.to_dict()

    async def one(self) -> tuple[str, str]:
        a = await self.lc.send([HEKOU], self.payload)
        b = await self.hk.send([LAOCAI], self.payload)
        self.sent += [(HEKOU, a), (LAOCAI, b)]
        return a, b

    @contextlib.asynccontextmanager
    async def during(self) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await self.one()
                await asyncio.sleep(1.0)
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def all_delivered_and_open(self) -> None:
        """Every message sent so far is delivered and its receiver opens it."""
        for receiver, mid in self.sent:
            sender = self.lc if receiver == HEKOU else self.hk
            await sender.wait_delivered(mid, timeout=60)
            opener = self.hk if receiver == HEKOU else self.lc
            data = await opener.call("GET", f"/api/v1/inbox/{mid}", expect=200)
            assert data["type"] == self.payload["type"]


async def _stored(pair: Pair, office: str, mid: str) -> envelope.VerifiedEnvelope:
    gw = pair.gateways[office]
    row = (await gw.store.call(gw.store.sync.inbox_envelope, bytes.fromhex(mid)))[0]
    return envelope.verify_stored(row["raw"], gw.directory, received_at_ms=row["stored_at_ms"])


async def test_key_ceremony_script_on_two_running_gateways(pair, session, tmp_path):
    folder = _ceremony_folder(pair, tmp_path / "ceremony")
    lc_admin = admin_headers(pair.homes[LAOCAI])
    admin_headers(pair.homes[HEKOU])
    lc = await pair.start(LAOCAI)
    hk = await pair.start(HEKOU)
    traffic = Traffic(pair, session)
    before_a, before_b = await traffic.one()
    await traffic.all_delivered_and_open()
    old_ring = Keyring.load(pair.homes[LAOCAI] / "private" / "keyring.json")
    old_sign = old_ring.signing_key(_now()).key_id
    old_x = lc.directory.encryption_key(LAOCAI, _now()).key_id

    # 1. Office key rotation of Lào Cai, with messages in flight both ways.
    async with traffic.during():
        out = await _script("office-key", folder, pair)
    assert "installed in the running gateway" in out
    assert lc.directory.serial == hk.directory.serial == 2
    after_a, after_b = await traffic.one()
    await traffic.all_delivered_and_open()
    new_sign = lc.keyring.signing_key(_now()).key_id
    new_x = hk.directory.encryption_key(LAOCAI, _now()).key_id
    assert new_sign != old_sign and new_x != old_x
    # Hekou holds Lào Cai's messages signed by the old key (before) and the new (after); Lào
    # Cai opened what was sealed to its old encryption key and to its new one.
    assert (await _stored(pair, HEKOU, before_a)).signer_key_id == old_sign
    assert (await _stored(pair, HEKOU, after_a)).signer_key_id == new_sign
    to_lc = [r.key_id for r in (await _stored(pair, LAOCAI, before_b)).header.recipients
             if r.office_id == LAOCAI]
    assert to_lc == [old_x]
    to_lc = [r.key_id for r in (await _stored(pair, LAOCAI, after_b)).header.recipients
             if r.office_id == LAOCAI]
    assert to_lc == [new_x]

    # 2. Root rotation (a new VN root), with messages in flight.
    vn_old = RootSigner.load(folder / "private" / "root-vn.key.json")
    cn = RootSigner.load(folder / "private" / "root-cn.key.json")
    async with traffic.during():
        await _script("roots", folder, pair)
    await traffic.one()
    await traffic.all_delivered_and_open()
    for gw, office in ((lc, LAOCAI), (hk, HEKOU)):
        assert gw.roots.version == 2 and gw.directory.serial == 3
        on_disk = TrustRoots.load(pair.homes[office] / "roots.json")
        assert on_disk == gw.roots and vn_old.key_id not in {r.key_id for r in on_disk.roots}
    # Whichever side took the new directory first, the other's fetch of it before its own
    # roots were installed raised no alert.
    for gw in (lc, hk):
        alerts = (await gw.health())["audit"]["alerts"]
        assert not [a for a in alerts if a["origin"] == "trust-directory"], alerts
    # A directory signed by the retired VN root (with the CN root) is refused.
    keyrings = dict(pair.net.keyrings)
    keyrings[LAOCAI] = Keyring.load(pair.homes[LAOCAI] / "private" / "keyring.json")
    retired = _directory_signed_by(lc.directory, keyrings, 9, vn_old, cn)
    async with session.put(pair.api(LAOCAI) + "/api/v1/directory", data=retired,
                           headers=lc_admin) as r:
        body = await r.json()
        assert (r.status, body["code"]) == (400, "BAD_DIRECTORY")
        assert "not a trust root" in body["message"]
    # A root set signed by one root in force only, and a rollback, are refused (BAD_ROOTS).
    vn_new = RootSigner.load(folder / "private" / "root-vn.key.json")
    vn3 = RootSigner.generate("VN")
    half = build_root_set(next_roots(lc.roots, [vn3.root_key()]))
    half = sign_root_set(sign_root_set(half, vn_new), vn3)
    back = build_root_set(TrustRoots(pair.net.roots.roots, 1))
    for s in (vn_old, vn_new, cn):
        back = sign_root_set(back, s)
    for rs in (half, back):
        body_json = {"root_set": base64.b64encode(rs).decode(),
                     "directory": base64.b64encode(lc.directory.signed_bytes).decode()}
        async with session.put(pair.api(LAOCAI) + "/api/v1/roots", json=body_json,
                               headers=lc_admin) as r:
            assert (r.status, (await r.json())["code"]) == (400, "BAD_ROOTS")
    assert lc.roots.version == 2

    # 3. Revocation of Lào Cai's replaced keys, as if compromised.
    async with traffic.during():
        out = await _script("revoke", folder, pair)
    # Installed on Lào Cai, Hekou took it from its peer within one refresh (the script's
    # own install on Hekou then changed nothing).
    assert "other gateway: holds serial 4" in out and "already installed" in out
    print(next(line for line in out.splitlines() if line.startswith("other gateway")))
    await traffic.one()
    await traffic.all_delivered_and_open()
    assert {old_sign, old_x} <= set(hk.directory.revoked)
    for office in (HEKOU, LAOCAI):  # a request signed by the revoked key is refused
        status, data = await ping_as(session, old_ring, office, pair.peer(office))
        assert (status, data["code"]) == (401, "KEY_REVOKED")
    # What was received before the revocation still verifies and opens, both ways.
    for receiver, mid in ((HEKOU, before_a), (LAOCAI, before_b)):
        opener = pair.officer(session, receiver)
        await opener.call("GET", f"/api/v1/inbox/{mid}", expect=200)

    # Both restart from the files the ceremony left (new roots, serial 4) and carry on.
    for office in (LAOCAI, HEKOU):
        await pair.stop(office)
    lc, hk = await pair.start(LAOCAI), await pair.start(HEKOU)
    assert lc.directory.serial == hk.directory.serial == 4 and lc.roots.version == 2
    assert lc.keyring.signing_key(_now()).key_id == new_sign
    await traffic.one()
    await traffic.all_delivered_and_open()


async def test_root_rotation_installed_offline_and_completed_after_a_crash(pair, session,
                                                                          tmp_path, capfd):
    vn, cn = pair.net.root_signers
    vn2 = RootSigner.generate("VN")
    unsigned = build_root_set(next_roots(pair.net.roots, [vn2.root_key()]))
    root_set = tmp_path / "roots-v2.bin"
    root_set.write_bytes(sign_root_set(sign_root_set(sign_root_set(unsigned, vn), cn), vn2))
    half = tmp_path / "roots-v2-half.bin"
    half.write_bytes(sign_root_set(sign_root_set(unsigned, vn), vn2))
    directory = tmp_path / "directory-2.bin"
    directory.write_bytes(_directory_signed_by(pair.net.directory(), pair.net.keyrings, 2,
                                               vn2, cn))
    lc_home, hk_home = (str(pair.homes[o]) for o in (LAOCAI, HEKOU))
    admin_headers(pair.homes[LAOCAI])

    # Hekou (stopped): signed by one root in force only, refused, nothing written.
    before = (pair.homes[HEKOU] / "roots.json").read_bytes()
    r = await asyncio.to_thread(run_cli, capfd, "directory", "install", str(directory),
                                "--root-set", str(half), "--home", hk_home)
    assert r.returncode == 2 and r.stderr.startswith("error BAD_ROOTS"), r.stderr
    assert (pair.homes[HEKOU] / "roots.json").read_bytes() == before
    r = await asyncio.to_thread(run_cli, capfd, "directory", "install", str(directory),
                                "--root-set", str(root_set), "--home", hk_home)
    assert r.returncode == 0 and "trust roots version 2" in r.stdout, r.stderr

    # Lào Cai crashed between the two writes: the new roots, the old directory. It does not
    # start; installing the same pair again completes the rotation.
    (pair.homes[LAOCAI] / "roots.json").write_text(
        verify_root_set(root_set.read_bytes(), pair.net.roots).to_json(), encoding="utf-8")
    with pytest.raises(Exception, match="not a trust root"):
        await pair.start(LAOCAI)
    r = await asyncio.to_thread(run_cli, capfd, "directory", "install", str(directory),
                                "--root-set", str(root_set), "--home", lc_home)
    assert r.returncode == 0, r.stderr
    lc, hk = await pair.start(LAOCAI), await pair.start(HEKOU)
    assert lc.roots.version == hk.roots.version == 2
    assert lc.directory.serial == hk.directory.serial == 2
    lco, hko = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
    payload = case_payloads()[1].payload.to_dict()
    a, b = await lco.send([HEKOU], payload), await hko.send([LAOCAI], payload)
    await lco.wait_delivered(a)
    await hko.wait_delivered(b)
    # The same pair once more, on a running gateway: nothing changes.
    r = await asyncio.to_thread(run_cli, capfd, "directory", "install", str(directory),
                                "--root-set", str(root_set), "--home", lc_home)
    assert r.returncode == 0 and "already installed" in r.stdout, r.stdout + r.stderr


async def test_root_rotation_installed_on_one_side_reaches_the_other(pair, session):
    """Installed into running Lào Cai only: Hekou is offered the new directory, cannot verify
    it with its roots, fetches Lào Cai's root set, checks it against its own roots in force
    and installs both, within one refresh and without an alert."""
    vn, cn = pair.net.root_signers
    vn2 = RootSigner.generate("VN")
    root_set = build_root_set(next_roots(pair.net.roots, [vn2.root_key()]))
    for s in (vn, cn, vn2):
        root_set = sign_root_set(root_set, s)
    directory = _directory_signed_by(pair.net.directory(), pair.net.keyrings, 2, vn2, cn)
    h = admin_headers(pair.homes[LAOCAI])
    lc, hk = await pair.start(LAOCAI), await pair.start(HEKOU)
    body = {"root_set": base64.b64encode(root_set).decode(),
            "directory": base64.b64encode(directory).decode()}
    t0 = time.monotonic()
    async with session.put(pair.api(LAOCAI) + "/api/v1/roots", json=body, headers=h) as r:
        data = await r.json()
        assert r.status == 200 and data["installed"] and data["roots_version"] == 2, data

    async def hekou_rotated() -> bool:
        return hk.roots.version == 2 and hk.directory.serial == 2
    await wait_for(hekou_rotated, timeout=40, what="Hekou to take the root rotation")
    print(f"root rotation reached the peer in {time.monotonic() - t0:.1f} s")  # -s shows it
    assert lc.roots == hk.roots
    assert (pair.homes[HEKOU] / "root-set.bin").read_bytes() == root_set
    assert TrustRoots.load(pair.homes[HEKOU] / "roots.json").version == 2
    alerts = (await hk.health())["audit"]["alerts"]
    assert not [a for a in alerts if a["origin"] == "trust-directory"], alerts
    lco, hko = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
    payload = case_payloads()[1].payload.to_dict()
    a, b = await lco.send([HEKOU], payload), await hko.send([LAOCAI], payload)
    await lco.wait_delivered(a)
    await hko.wait_delivered(b)
    # Both restart from their files (the new roots, the root set, serial 2).
    await pair.stop(HEKOU)
    hk = await pair.start(HEKOU)
    assert hk.roots.version == 2 and hk.trust.root_set == root_set
