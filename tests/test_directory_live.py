"""The trust directory on live gateways: a revocation installed without a restart reaches the
peer, cannot be undone (rollback or fork, at install and at start), and an expired directory
stops peer traffic and sealing. SQLite and, with GATEWAY_TEST_PG_DSN, PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import aiohttp
import harness
import pytest
from harness import BACKENDS, Pair, admin_headers, run_cli, wait_for

from gateway.node.clock import FakeClock
from gateway.protocol.errors import DirectoryError
from gateway.protocol.identity import build_directory, sign_directory
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

DAY = 24 * 3600 * 1000


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def _now() -> int:
    return int(time.time() * 1000)


def signed_directory(pair: Pair, serial: int, *, revoke: tuple[str, ...] = (),
                     expires_at_ms: int | None = None) -> bytes:
    """A directory of the pair's offices that both roots signed."""
    d = pair.net.directory()
    entries = [pair.net.keyrings[o].public_office(
        country=i.country, name_vi=i.name_vi, name_zh=i.name_zh, role=i.role,
        endpoint=i.endpoint) for o, i in d.offices.items()]
    now = _now()
    unsigned = build_directory(entries, serial=serial, issued_at_ms=now - DAY,
                               expires_at_ms=expires_at_ms or now + 300 * DAY,
                               revocations=[(k, now, "compromised") for k in revoke])
    vn, cn = pair.net.root_signers
    return sign_directory(sign_directory(unsigned, vn), cn)


def admin(pair: Pair, office: str) -> dict[str, str]:
    return admin_headers(pair.homes[office])


async def ping_as(session, pair: Pair, origin: str, to: str, now_ms: int | None = None):
    return await harness.ping_as(session, pair.net.keyrings[origin], to, pair.peer(to), now_ms)


async def health(session, pair: Pair, office: str) -> dict:
    """The full health view (it needs a token; without one only the status shows)."""
    h = {"Authorization": f"Bearer {pair.tokens[office]['auditor']}"}
    async with session.get(pair.api(office) + "/health", headers=h) as r:
        return await r.json()


async def install(session, pair: Pair, office: str, headers, data: bytes):
    async with session.put(pair.api(office) + "/api/v1/directory", data=data,
                           headers=headers) as r:
        return r.status, await r.json()


async def test_revocation_reaches_the_peer_live_and_cannot_be_undone(pair, session):
    h = admin(pair, LAOCAI)
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    guard_key = pair.net.keyrings[LAOCAI_BORDER_GUARD].signing_key(_now()).key_id
    assert (await ping_as(session, pair, LAOCAI_BORDER_GUARD, HEKOU))[0] == 200

    # Serial 2 revokes the Border Guard's key; installed into running Lào Cai by an admin.
    serial2 = signed_directory(pair, 2, revoke=(guard_key,))
    officer_h = {"Authorization": f"Bearer {pair.tokens[LAOCAI]['officer']}"}
    status, data = await install(session, pair, LAOCAI, officer_h, serial2)
    assert (status, data["code"]) == (403, "FORBIDDEN")
    status, data = await install(session, pair, LAOCAI, h, serial2)
    assert status == 200 and data["installed"] and data["previous_serial"] == 1
    assert data["revoked_keys"] == [guard_key]
    status, data = await ping_as(session, pair, LAOCAI_BORDER_GUARD, LAOCAI)
    assert (status, data["code"]) == (401, "KEY_REVOKED")
    # Hekou was offered it at once, fetched it from Lào Cai, verified it and installed it.
    hk = pair.gateways[HEKOU]

    async def hekou_has_2() -> bool:
        return hk.directory.serial == 2
    await wait_for(hekou_has_2, what="Hekou to take serial 2 from its peer")
    status, data = await ping_as(session, pair, LAOCAI_BORDER_GUARD, HEKOU)
    assert (status, data["code"]) == (401, "KEY_REVOKED")
    assert (pair.homes[HEKOU] / "directory.bin").read_bytes() == serial2
    assert (await health(session, pair, HEKOU))["directory"]["serial"] == 2
    # The same again changes nothing.
    status, data = await install(session, pair, LAOCAI, h, serial2)
    assert status == 200 and not data["installed"]

    # Putting serial 1 back is a rollback; another serial 2 is a fork. Both are refused and
    # raised as alerts.
    status, data = await install(session, pair, LAOCAI, h, pair.net.directory_bytes)
    assert (status, data["code"]) == (400, "BAD_DIRECTORY") and "rollback" in data["message"]
    fork = signed_directory(pair, 2, expires_at_ms=_now() + 200 * DAY)
    status, data = await install(session, pair, LAOCAI, h, fork)
    assert (status, data["code"]) == (400, "BAD_DIRECTORY") and "fork" in data["message"]
    status, data = await install(session, pair, LAOCAI, h, b"not a directory")
    assert (status, data["code"]) == (400, "BAD_DIRECTORY")
    hl = await health(session, pair, LAOCAI)
    kinds = {a["kind"] for a in hl["audit"]["alerts"]}
    assert {"directory_rollback", "directory_fork"} <= kinds and hl["status"] == "degraded"
    assert pair.gateways[LAOCAI].directory.serial == 2
    assert (await ping_as(session, pair, LAOCAI_BORDER_GUARD, LAOCAI))[0] == 401

    # Serial 1 put back in the file: the gateway refuses to start, saying why.
    await pair.stop(HEKOU)
    (pair.homes[HEKOU] / "directory.bin").write_bytes(pair.net.directory_bytes)
    with pytest.raises(DirectoryError, match="rollback") as e:
        await pair.start(HEKOU)
    assert e.value.code == "BAD_DIRECTORY" and "serial 2 or higher" in e.value.message
    (pair.homes[HEKOU] / "directory.bin").write_bytes(serial2)
    await pair.start(HEKOU)
    status, data = await ping_as(session, pair, LAOCAI_BORDER_GUARD, HEKOU)
    assert (status, data["code"]) == (401, "KEY_REVOKED")
    assert "directory_rollback" in {a["kind"] for a in
                                    (await health(session, pair, HEKOU))["audit"]["alerts"]}


async def test_directory_install_command_stopped_and_running(pair, session, tmp_path: Path,
                                                            capfd):
    admin(pair, LAOCAI)
    home = str(pair.homes[LAOCAI])

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        """``blo-gateway ARGS`` (in this process, on a thread: the gateways keep serving)."""
        return run_cli(capfd, *args)

    await pair.start(HEKOU)
    files = {}
    for serial in (2, 3, 4):
        files[serial] = tmp_path / f"dir{serial}.bin"
        files[serial].write_bytes(signed_directory(pair, serial))
    # Lào Cai is stopped: the file and the store are updated for its next start.
    r = await asyncio.to_thread(cli, "directory", "install", str(files[2]), "--home", home)
    assert r.returncode == 0, r.stderr
    assert "not running" in r.stdout
    lc = await pair.start(LAOCAI)
    assert lc.directory.serial == 2
    hk = pair.gateways[HEKOU]

    async def hekou_has(n: int) -> bool:
        return hk.directory.serial == n
    # Lào Cai's first ping carries serial 2: Hekou fetches it.
    await wait_for(lambda: hekou_has(2), what="Hekou to take serial 2")

    # Lào Cai is running: through its officer API, at once, and on to Hekou.
    r = await asyncio.to_thread(cli, "directory", "install", str(files[3]), "--home", home)
    assert r.returncode == 0, r.stderr
    assert "running gateway" in r.stdout and lc.directory.serial == 3
    await wait_for(lambda: hekou_has(3), what="Hekou to take serial 3")
    r = await asyncio.to_thread(cli, "directory", "install", str(files[2]), "--home", home)
    assert r.returncode == 2 and r.stderr.startswith("error BAD_DIRECTORY")

    # Hekou is down when Lào Cai takes serial 4; when it comes back, the answer to its
    # first ping carries serial 4 and it fetches it.
    await pair.stop(HEKOU)
    r = await asyncio.to_thread(cli, "directory", "install", str(files[4]), "--home", home)
    assert r.returncode == 0, r.stderr
    hk = await pair.start(HEKOU)
    await wait_for(lambda: hekou_has(4), what="Hekou to take serial 4 after a restart")
    # A stopped gateway refuses a rollback too.
    await pair.stop(LAOCAI)
    r = await asyncio.to_thread(cli, "directory", "install", str(files[3]), "--home", home)
    assert r.returncode == 2 and "BAD_DIRECTORY" in r.stderr and "rollback" in r.stderr


async def test_expiry_is_enforced_while_running(pair, session):
    t0 = _now()
    clock = FakeClock(t0)
    # A directory that expires in 20 days, long before the keys it lists.
    (pair.homes[HEKOU] / "directory.bin").write_bytes(
        signed_directory(pair, 2, expires_at_ms=t0 + 20 * DAY))
    await pair.start(HEKOU, clock=clock)
    expires = pair.gateways[HEKOU].directory.expires_at_ms
    hl = await health(session, pair, HEKOU)
    assert hl["directory"]["state"] == "ok" and hl["warnings"] == []

    clock.advance(expires - t0 - 10 * DAY)  # ten days before expiry: a warning, still working
    hl = await health(session, pair, HEKOU)
    assert hl["directory"]["state"] == "expiring" and "expires in 10.0 days" in hl["warnings"][0]
    assert (await ping_as(session, pair, LAOCAI, HEKOU, clock.now_ms()))[0] == 200

    clock.advance(10 * DAY)  # expired while running
    hl = await health(session, pair, HEKOU)
    assert hl["directory"]["state"] == "expired" and hl["status"] == "degraded"
    assert "refused" in hl["warnings"][0]
    status, data = await ping_as(session, pair, LAOCAI, HEKOU, clock.now_ms())
    assert (status, data["code"]) == (503, "DIRECTORY_EXPIRED")
    o = pair.officer(session, HEKOU)
    data = await o.call("POST", "/api/v1/messages",
                        {"to": [LAOCAI], "payload": case_payloads()[1].payload.to_dict()},
                        expect=503)
    assert data["code"] == "DIRECTORY_EXPIRED"
