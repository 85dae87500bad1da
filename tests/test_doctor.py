"""``blo-gateway doctor`` through the CLI: a good home passes every check (the peers answer
its signed ping), a broken one is told what to fix and exits 1."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import pytest
from harness import BACKENDS, Pair

from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


async def doctor(pair: Pair, office: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "doctor", "--home", str(pair.homes[office]),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_doctor_passes_a_good_home_and_names_each_fault(pair):
    await pair.start(HEKOU)
    await pair.start(LAOCAI_BORDER_GUARD)
    code, out = await doctor(pair, LAOCAI)
    assert code == 0, out
    for check in ("permissions", "configuration", "database", "directory",
                  f"clock skew {HEKOU}", f"clock skew {LAOCAI_BORDER_GUARD}", "fonts"):
        assert f"ok   {check}:" in out, out
    assert "all checks passed" in out

    # a peer that is down: its clock cannot be checked
    await pair.stop(LAOCAI_BORDER_GUARD)
    code, out = await doctor(pair, LAOCAI)
    assert code == 1
    assert f"FIX  clock skew {LAOCAI_BORDER_GUARD}:" in out and "did not answer" in out

    # a directory that does not verify (e.g. expired or corrupt)
    home = pair.homes[LAOCAI]
    good_dir = (home / "directory.bin").read_bytes()
    (home / "directory.bin").write_bytes(good_dir[:-3])
    code, out = await doctor(pair, LAOCAI)
    assert code == 1 and "FIX  directory:" in out and "directory install" in out
    (home / "directory.bin").write_bytes(good_dir)

    # the keyring open to others (the SQLite file too, when there is one)
    os.chmod(home / "private" / "keyring.json", 0o644)
    code, out = await doctor(pair, LAOCAI)
    assert code == 1 and "FIX  permissions:" in out and "chmod 600" in out
    os.chmod(home / "private" / "keyring.json", 0o600)

    # a bad setting
    toml = (home / "gateway.toml").read_text()
    assert "\nmax_skew_ms = " in toml
    (home / "gateway.toml").write_text(re.sub(r"\nmax_skew_ms = .*", '\nmax_skew_ms = "soon"',
                                              toml))
    code, out = await doctor(pair, LAOCAI)
    assert code == 1 and "FIX  configuration:" in out and "max_skew_ms" in out, out


async def test_doctor_flags_a_world_readable_sqlite_database(tmp_path):
    p = Pair(tmp_path, "sqlite")
    try:
        db = p.homes[LAOCAI] / "gateway.db"
        assert db.exists()
        os.chmod(db, 0o644)
        code, out = await doctor(p, LAOCAI)
        assert code == 1 and "FIX  permissions:" in out and "gateway.db" in out
    finally:
        await p.close()
