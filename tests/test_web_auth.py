"""Web sign-in and sessions over real HTTP, as a browser sends them: a wrong second factor,
a replayed code, a missing CSRF token, an expired session and a disabled user are each
refused, and every refusal, sign-in and sign-out is an audit leaf. The JSON API's bearer
tokens keep working beside the web app."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import BACKENDS, Pair
from webtools import PASSWORD, Browser, code, web_user

from gateway.cli import main as cli_main
from gateway.node.clock import FakeClock
from gateway.node.gateway import Gateway
from gateway.node.home import set_user_disabled
from gateway.node.web import IDLE_MS
from gateway.protocol.scenario import HEKOU, LAOCAI


async def _leaves(gw: Gateway) -> list[dict[str, Any]]:
    bundle = await gw.store.call(gw.store.sync.export_audit)
    import json

    return [json.loads(bytes(x)) for x in bundle["leaves"]]


def _refusals(leaves: list[dict[str, Any]]) -> list[str]:
    return [f"{x['code']}:{x.get('kind', '')}" for x in leaves if x["type"] == "web.refused"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sign_in_needs_password_and_a_fresh_second_factor(backend: str,
                                                                 tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    secret = web_user(pair, LAOCAI, "officer", exists=True)
    try:
        gw = await pair.start(LAOCAI)
        b = Browser(pair.api(LAOCAI))
        try:
            st, _, _ = await b.get("/app/")
            assert st == 303  # not signed in: to the sign-in page
            st, text, _ = await b.sign_in("officer", secret, password="wrong password here")
            assert st == 401 and "mật khẩu" in text
            st, _, _ = await b.sign_in("officer", secret, step=5)  # a code from the future
            assert st == 401
            st, _, _ = await b.sign_in("nobody", secret)
            assert st == 401
            st, _, h = await b.sign_in("officer", secret)
            assert st == 303 and h["Location"] == "/app/"
            cookie = h.getall("Set-Cookie")
            sess = next(c for c in cookie if c.startswith("blo_session="))
            assert "HttpOnly" in sess and "SameSite=Strict" in sess and "Path=/app/" in sess
            st, text, h = await b.get("/app/")
            assert st == 200
            assert "script-src 'self'" in h["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
            assert h["X-Frame-Options"] == "DENY" and h["Cache-Control"] == "no-store"
            assert "<script src=\"/app/static/app.js\"" in text and "<script>" not in text
            # the same code again (another browser): refused, it was used
            b2 = Browser(pair.api(LAOCAI))
            st, _, _ = await b2.sign_in("officer", secret)
            assert st == 401
            await b2.close()
            # sign out: the old cookie no longer opens a page
            st, _, _ = await b.post("/app/signout", {})
            assert st == 303
            st, _, h = await b.get("/app/")
            assert st == 303 and h["Location"] == "/app/signin"
        finally:
            await b.close()
        leaves = await _leaves(gw)
        assert _refusals(leaves) == ["SIGN_IN_FAILED:password", "SIGN_IN_FAILED:second_factor",
                                     "SIGN_IN_FAILED:password", "SIGN_IN_FAILED:code_reused"]
        assert [x["type"] for x in leaves if x["type"] in ("web.signin", "web.signout")] == \
            ["web.signin", "web.signout"]
        # the unknown user name is not recorded as a user
        assert sum(1 for x in leaves if x["type"] == "web.refused" and "user" not in x) == 1
        # the bearer token of the JSON API still works beside the web app
        async with aiohttp.ClientSession() as s, s.get(
                pair.api(LAOCAI) + "/api/v1/inbox",
                headers={"Authorization": f"Bearer {pair.tokens[LAOCAI]['officer']}"}) as r:
            assert r.status == 200
    finally:
        await pair.close()


async def test_missing_csrf_token_expired_session_and_disabled_user_are_refused(
        tmp_path: Path) -> None:
    backend = BACKENDS[-1]
    start = int(time.time() * 1000)
    clock = FakeClock(start)
    pair = Pair(tmp_path, backend)
    secret = web_user(pair, LAOCAI, "officer", exists=True)
    try:
        gw = await pair.start(LAOCAI, clock=clock)
        b = Browser(pair.api(LAOCAI))
        try:
            assert (await b.sign_in("officer", secret))[0] == 303
            await b.get("/app/")
            # a state-changing request without the session's form token, and with another's
            st, text, _ = await b.post("/app/lang", {"lang": "zh"}, csrf=False)
            assert st == 403 and "CSRF_REJECTED" in text
            st, _, _ = await b.post("/app/lang", {"lang": "zh", "csrf": "0" * 64}, csrf=False)
            assert st == 403
            st, _, _ = await b.post("/app/lang", {"lang": "zh"})
            assert st == 303  # with it: done
            # idle past the timeout: the session is over, on a GET and on a POST
            clock.advance(IDLE_MS + 1000)
            st, _, h = await b.post("/app/lang", {"lang": "vi"})
            assert st == 401
            st, _, h = await b.get("/app/")
            assert st == 303 and h["Location"] == "/app/signin?ended=1"
            # a disabled user: the live session ends at once, and sign-in is refused
            t = clock.now_ms() / 1000
            assert (await b.sign_in("officer", secret, step=0))[0] == 401  # code of the past
            await b.get("/app/signin")
            st, _, _ = await b.post("/app/signin", {"user": "officer", "password": PASSWORD,
                                                    "code": code(secret, now_s=t)})
            assert st == 303
            assert (await b.get("/app/"))[0] == 200
            set_user_disabled(pair.homes[LAOCAI], "officer", True)
            st, _, h = await b.get("/app/")
            assert st == 303 and h["Location"] == "/app/signin?ended=1"
            await b.get("/app/signin")
            st, _, _ = await b.post("/app/signin", {"user": "officer", "password": PASSWORD,
                                                    "code": code(secret, 1, now_s=t)})
            assert st == 401
        finally:
            await b.close()
        refusals = _refusals(await _leaves(gw))
        assert refusals == ["CSRF_REJECTED:", "CSRF_REJECTED:", "SESSION_EXPIRED:idle",
                            "SESSION_EXPIRED:ended", "SIGN_IN_FAILED:second_factor",
                            "SESSION_EXPIRED:disabled", "SIGN_IN_FAILED:disabled"]
    finally:
        await pair.close()


async def test_failed_sign_ins_block_further_attempts_for_growing_times(tmp_path: Path) -> None:
    clock = FakeClock(int(time.time() * 1000))
    pair = Pair(tmp_path, "sqlite")
    secret = web_user(pair, LAOCAI, "officer", exists=True)
    try:
        await pair.start(LAOCAI, clock=clock)
        b = Browser(pair.api(LAOCAI))
        try:
            for _ in range(3):
                assert (await b.sign_in("officer", secret, password="x" * 20))[0] == 401
            # blocked now, even with the right password and code
            st, text, _ = await b.sign_in("officer", secret)
            assert st == 429 and ": 1" in text
            clock.advance(1500)
            assert (await b.sign_in("officer", secret, password="x" * 20))[0] == 401
            clock.advance(1500)  # the fourth failure blocks for 2 s
            assert (await b.sign_in("officer", secret))[0] == 429
            clock.advance(1000)
            t = clock.now_ms() / 1000
            await b.get("/app/signin")
            st, _, _ = await b.post("/app/signin", {"user": "officer", "password": PASSWORD,
                                                    "code": code(secret, now_s=t)})
            assert st == 303
        finally:
            await b.close()
    finally:
        await pair.close()


async def test_officer_without_second_factor_is_refused_and_cli_enrols_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    pair = Pair(tmp_path, "sqlite")
    home = pair.homes[HEKOU]
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["users", "password", "--home", str(home), "--name", "officer",
                     "--password-stdin"]) == 0
    try:
        gw = await pair.start(HEKOU)
        b = Browser(pair.api(HEKOU))
        try:
            st, text, _ = await b.sign_in("officer", None)
            assert st == 403 and "xác thực hai lớp" in text
            capsys.readouterr()
            assert cli_main(["users", "totp", "--home", str(home), "--name", "officer"]) == 0
            out = capsys.readouterr().out
            secret = out.split("secret: ")[1].split()[0]
            assert "otpauth://totp/" in out
            assert (await b.sign_in("officer", secret))[0] == 303
            assert cli_main(["users", "signout", "--home", str(home), "--name", "officer"]) == 0
            assert (await b.get("/app/"))[0] == 303
        finally:
            await b.close()
        refusals = _refusals(await _leaves(gw))
        assert refusals == ["SECOND_FACTOR_MISSING:", "SESSION_EXPIRED:ended"]
        # the secret is not in the database in clear
        import sqlalchemy as sa

        engine = sa.create_engine(gw.config.db_url)
        with engine.connect() as c:
            sealed = c.execute(sa.text("SELECT totp_sealed FROM web_credentials")).scalar()
        engine.dispose()
        assert secret.encode() not in bytes(sealed)
    finally:
        await pair.close()
