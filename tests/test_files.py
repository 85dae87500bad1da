"""What the gateway leaves on disk is its own: a private umask, a refusal to run with a home,
database or keyring others can read, SQLite's secure_delete on every connection; and a
command whose reader goes away (``| head``) stops without a traceback."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import Pair

import gateway
from gateway.cli.client import OfficerClient
from gateway.node.gateway import Gateway
from gateway.protocol import envelope
from gateway.protocol.errors import ConfigError, GatewayError
from gateway.protocol.messages import Payload
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from gateway.store import _sqlite_pragmas

SRC = Path(gateway.__file__).parent.parent  # run the commands of the code under test


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _serve(home: Path, umask: int = 0o022) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--home", str(home)],
                            cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            umask=umask)


def _wait_healthy(proc: subprocess.Popen[bytes], client: OfficerClient) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.health()
        except GatewayError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.1)
        else:
            return


def _pair_made_with_umask_022(tmp_path: Path) -> Pair:
    old = os.umask(0o022)
    try:
        return Pair(tmp_path, "sqlite")
    finally:
        os.umask(old)


def test_a_gateway_started_with_umask_022_keeps_its_files_private(tmp_path):
    pair = _pair_made_with_umask_022(tmp_path)
    home = pair.homes[LAOCAI]
    proc = _serve(home)
    try:
        client = OfficerClient(pair.api(LAOCAI), pair.tokens[LAOCAI]["officer"])
        _wait_healthy(proc, client)
        client.send(["cn.yunnan.hekou.blo"], case_payloads()[0].payload.to_dict())
        files = {p.relative_to(home).as_posix(): _mode(p) for p in home.rglob("*")}
        files["."] = _mode(home)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert {"gateway.db", "gateway.db-wal", "gateway.db-shm", "private/keyring.json",
            "private/tokens/officer.token"} <= set(files)
    open_to_others = {f: oct(m) for f, m in files.items() if m & 0o077}
    assert open_to_others == {}


async def test_refuses_to_run_when_others_can_read(tmp_path):
    pair = _pair_made_with_umask_022(tmp_path)
    home = pair.homes[LAOCAI]
    db = home / "gateway.db"
    # As an operator starts it: exit status 2 and the fix on stderr.
    os.chmod(home, 0o755)
    text = _refused(home)
    assert text.startswith("error BAD_CONFIG") and f"chmod 700 {home}" in text, text
    os.chmod(home, 0o700)
    for path, mode, fix in ((home / "private", 0o750, "chmod 700"), (db, 0o644, "chmod 600"),
                            (home / "private" / "keyring.json", 0o640, "chmod 600")):
        os.chmod(path, mode)
        with pytest.raises(ConfigError) as e:
            await Gateway(pair.config(LAOCAI)).start()
        assert f"{fix} {path}" in e.value.message or (
            path.name == "keyring.json" and fix in e.value.message), e.value.message
        os.chmod(path, mode & 0o700)
    gw = Gateway(pair.config(LAOCAI))
    await gw.start()  # all private again: it runs
    await gw.stop()


def _refused(home: Path) -> str:
    """stderr of ``serve``, which must exit 2 at once."""
    proc = _serve(home)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, err
    return err.decode()


def test_secure_delete_is_set_on_every_connection(tmp_path):
    # The hook itself: it must turn secure_delete on whatever the build's default.
    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("PRAGMA secure_delete=OFF")
    _sqlite_pragmas(con, None)
    assert con.execute("PRAGMA secure_delete").fetchone()[0] == 1
    con.close()
    # And on the gateway's own engine, connection after connection.
    pair = Pair(tmp_path / "p", "sqlite")
    from gateway.store import make_engine

    engine = make_engine(pair.config(LAOCAI).db_url)
    try:
        conns = [engine.connect() for _ in range(3)]
        assert [c.execute(sa.text("PRAGMA secure_delete")).scalar() for c in conns] == [1] * 3
        for c in conns:
            c.close()
    finally:
        engine.dispose()


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """``blo-gateway open ... | head -1``: the reader leaves after one line."""
    pair = Pair(tmp_path, "sqlite")
    data = case_payloads()[0].payload.to_dict()
    data["body"]["facts"].update(vi="dòng " * 100_000, zh="行 " * 100_000)  # > a pipe's 64 KiB
    sealed = envelope.seal(Payload.from_dict(data), sender=pair.net.keyrings[LAOCAI],
                           recipients=[HEKOU], directory=pair.net.directory(),
                           now_ms=int(time.time() * 1000))
    (tmp_path / "m.bloe").write_bytes(sealed)
    home = pair.homes[HEKOU]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "open", str(tmp_path / "m.bloe"), "--json",
         "--keyring", str(home / "private" / "keyring.json"), "--directory",
         str(home / "directory.bin"), "--roots", str(home / "roots.json")],
        cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first == b"{\n"
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert err == "" and proc.returncode == 141
