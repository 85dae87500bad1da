"""Officer API users and tokens, managed from the command line while the gateway runs.

Every change counts at once on the running gateway (its token lookup has no cache), is an
entry in the audit log, and leaves that log verifiable although two processes wrote it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import aiohttp
import pytest
from harness import BACKENDS, Pair, error_code

from gateway.audit import leaves as audit
from gateway.audit.leaves import encode_leaf
from gateway.audit.verify import verify_bundles
from gateway.node import home as homes
from gateway.node.bundle import export_bundle
from gateway.node.home import add_user
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                       text=True, check=False, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    if ok:
        assert r.returncode == 0, r.stderr
    return r


async def _status(session: aiohttp.ClientSession, url: str, token: str) -> int:
    async with session.get(url + "/api/v1/inbox", headers={
            "Authorization": f"Bearer {token}"}) as r:
        return r.status


async def test_revoke_disable_remove_count_at_once_on_a_running_gateway(pair):
    await pair.start(LAOCAI)
    home, api = str(pair.homes[LAOCAI]), pair.api(LAOCAI)
    old = pair.tokens[LAOCAI]["officer"]
    async with aiohttp.ClientSession() as s:
        assert await _status(s, api, old) == 200  # used once: any cache would hold it now

        # tokens revoke: refused at once; the token file goes too.
        cli("tokens", "revoke", "--home", home, "--user", "officer")
        assert await _status(s, api, old) == 401
        token_file = pair.homes[LAOCAI] / "private" / "tokens" / "officer.token"
        assert not token_file.exists()

        # --new: a fresh token, written 0600, works; the old one stays refused.
        out = cli("tokens", "revoke", "--home", home, "--user", "officer", "--new").stdout
        assert "officer.token" in out
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        new = token_file.read_text().strip()
        assert new != old
        assert await _status(s, api, new) == 200
        assert await _status(s, api, old) == 401
        # The gateway still writes its own audit entries after the command wrote some.
        o = pair.officer(s, LAOCAI)
        o.h = {"Authorization": f"Bearer {new}"}
        await o.send([HEKOU], case_payloads()[0].payload.to_dict())

        # disable / enable
        cli("users", "disable", "--home", home, "--name", "officer")
        assert await _status(s, api, new) == 401
        listing = json.loads(cli("users", "list", "--home", home, "--json").stdout)
        officer = next(u for u in listing if u["name"] == "officer")
        assert officer["disabled_at_ms"] and officer["role"] == "officer"
        assert "token" not in json.dumps(listing)
        homes.set_user_disabled(pair.homes[LAOCAI], "officer", False)
        assert await _status(s, api, new) == 200

        # remove: refused at once, the token file is deleted, the name is free again.
        cli("users", "remove", "--home", home, "--name", "officer")
        assert await _status(s, api, new) == 401
        assert not token_file.exists()
        assert [u["name"] for u in homes.list_users(pair.homes[LAOCAI])] == ["auditor"]
        assert error_code(lambda: homes.remove_user(pair.homes[LAOCAI], "officer")) \
            == "NOT_FOUND"

        # A user added while it runs logs in at once.
        path = add_user(pair.homes[LAOCAI], "mai.officer", "officer")
        assert await _status(s, api, path.read_text().strip()) == 200
        assert error_code(lambda: add_user(pair.homes[LAOCAI], "mai.officer", "admin")) \
            == "CONFLICT"

    # Every change is an audit entry, and the log that two processes wrote verifies.
    out = pair.root / "laocai.tar"
    export_bundle(pair.homes[LAOCAI], out)
    report = verify_bundles([out], pair.net.roots)
    # Alone, one side's bundle may not be witnessed yet (exit 2); it must not be tampered (1).
    assert report.exit_code in (0, 2), report.problems
    import tarfile

    with tarfile.open(out) as tar:
        member = tar.extractfile("leaves.jsonl")
        assert member is not None
        leaves = [json.loads(line) for line in member.read().splitlines()]
    events = [(e["type"], e.get("user")) for e in leaves if e["type"].startswith(
        ("user.", "token."))]
    for expected in [("token.revoked", "officer"), ("token.issued", "officer"),
                     ("user.disabled", "officer"), ("user.enabled", "officer"),
                     ("user.removed", "officer"), ("user.added", "mai.officer")]:
        assert expected in events, (expected, events)
    assert [i for i, e in enumerate(leaves) if e["seq"] != i] == []


def test_user_names_follow_the_audit_rule(tmp_path):
    """``users add`` used to accept names (``Mai``, ``đức``) that the audit log refuses: that
    user could never log in. Now one rule decides both."""
    pair = Pair(tmp_path, "sqlite")
    home = pair.homes[LAOCAI]
    for name in ["Mai", "đức", "a/b", "../x", "a b", "x" * 65, "", ".hidden", "mai\n", "ＭＡＩ",
                 "a:b", "١٢"]:
        assert error_code(lambda n=name: add_user(home, n, "officer")) == "MALFORMED", name
        assert error_code(lambda n=name: encode_leaf({"type": "user.login", "t": 1,
                                                      "user": n})) == "MALFORMED", name
    assert sorted(p.name for p in (home / "private" / "tokens").iterdir()) == [
        "auditor.token", "officer.token"]

    r = cli("users", "add", "--home", str(home), "--name", "Mai.Officer", ok=False)
    assert r.returncode == 2 and r.stderr.startswith("error MALFORMED")
    assert "lower-case" in r.stderr
    for good in ("mai.officer", "m", "0-duty_desk", "x" * 64):
        assert audit.USER_NAME.match(good)
        add_user(home, good, "auditor")
        encode_leaf({"type": "user.login", "t": 1, "user": good})
    assert (home / "private" / "tokens" / "mai.officer.token").exists()
