"""The compose form's keys and drafts, the admin's user pages and the refusals, in a real
browser (Debian's chromium through Playwright) against real gateways, on both backends.

Screenshots of the new pages in vi and zh go to ``$BLO_SCREENSHOTS`` (default: the test's
temporary directory), as in ``test_web_browser``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness import BACKENDS, BROWSER_PG, BROWSER_SQLITE, Pair, wait_for
from webtools import CHROMIUM, Page, async_playwright, needs_browser, shot, sign_in, web_user

from gateway.protocol.scenario import HEKOU, LAOCAI

if TYPE_CHECKING:
    from playwright.async_api import Route

pytestmark = needs_browser
CANARY = "Lò Thị Canary-8B2"  # an invented name


def _shots(tmp_path: Path, backend: str) -> Path:
    shots = Path(os.environ.get("BLO_SCREENSHOTS") or tmp_path / "shots") / backend
    shots.mkdir(parents=True, exist_ok=True)
    return shots


@pytest.mark.parametrize("backend", BROWSER_PG)
async def test_a_draft_is_saved_reopened_and_a_double_click_on_send_sends_once(
        backend: str, tmp_path: Path) -> None:
    shots = _shots(tmp_path, backend)
    pair = Pair(tmp_path, backend)
    secret = web_user(pair, LAOCAI, "officer", exists=True)
    try:
        lc = await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        base = pair.api(LAOCAI)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
            ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
            ctx.set_default_timeout(10_000)
            page = await ctx.new_page()
            posts: list[str] = []
            page.on("request", lambda r: posts.append(r.url)
                    if r.method == "POST" and r.url.endswith("/app/compose") else None)
            await sign_in(page, base, "officer", secret, "vi")
            await page.goto(base + "/app/compose")
            await page.click("#type-case_notice")
            await page.check(f"#to-{HEKOU.replace('.', '-')}")
            await page.fill("#f-offence-vi", f"{CANARY} bị lừa bán")
            await page.fill("#f-offence-zh", "被拐卖")
            await page.select_option("#f-context-priority", "2")
            # saved without the case reference (a draft is not checked), then reopened
            await page.click("#save-draft")
            await page.wait_for_selector("#draft-saved")
            assert "draft=" in page.url
            await shot(page, shots, "vi-compose-draft-saved")
            await page.click("#draft-saved a")
            await page.wait_for_selector("#drafts")
            assert await page.locator("#drafts a.draft-open").count() == 1
            assert CANARY not in await page.inner_text("main")  # metadata only
            await shot(page, shots, "vi-drafts")
            await page.click("#switch-lang")
            await page.wait_for_selector("text=草稿")
            await shot(page, shots, "zh-drafts")
            await page.click("#switch-lang")
            await page.wait_for_selector("text=Bản nháp")
            await page.click("#drafts a.draft-open")
            assert await page.input_value("#f-offence-vi") == f"{CANARY} bị lừa bán"
            assert await page.input_value("#f-offence-zh") == "被拐卖"
            assert await page.input_value("#f-context-priority") == "2"
            assert await page.is_checked(f"#to-{HEKOU.replace('.', '-')}")
            await page.fill("#f-context-case_reference", "LC-2026-0091")
            # a double click on "send" (chromium posts the form once or twice): one message
            await page.dblclick("#send")
            await page.wait_for_url(f"{base}/app/sent?ok=1")

            async def inbox(n: int) -> bool:
                return len(await hk.store.call(hk.store.sync.list_inbox, 10)) >= n
            await wait_for(lambda: inbox(1), what="the notice in Hekou")
            assert await lc.store.call(lc.store.sync.list_drafts, "officer") == []
            await page.goto(base + "/app/drafts")
            assert await page.locator("#drafts a.draft-open").count() == 0

            # the answer to "send" is lost on the way back (the gateway took the message);
            # the officer reloads, the browser posts the same form again: still one message
            lost: list[int] = []

            async def lose_first_answer(route: Route) -> None:
                if route.request.method == "POST" and not lost:
                    lost.append((await route.fetch(max_redirects=0)).status)
                    await route.fulfill(status=502, body="the connection was lost")
                else:
                    await route.continue_()
            await page.route("**/app/compose", lose_first_answer)
            await page.goto(base + "/app/compose?type=case_notice")
            await page.check(f"#to-{HEKOU.replace('.', '-')}")
            await page.fill("#f-context-case_reference", "LC-2026-0092")
            await page.fill("#f-offence-vi", "lần hai")
            posts.clear()
            await page.click("#send")
            await page.wait_for_selector("text=the connection was lost")
            assert lost == [303]  # the gateway had answered "sent"
            await page.reload()
            await page.wait_for_url(f"{base}/app/sent?ok=1")
            assert len(posts) == 2, posts  # the form really went twice
            await wait_for(lambda: inbox(2), what="the second notice in Hekou")
            await page.wait_for_timeout(1000)  # a third copy would have arrived by now
            assert len(await hk.store.call(hk.store.sync.list_inbox, 10)) == 2
            await browser.close()
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BROWSER_SQLITE)
async def test_the_admin_adds_a_user_in_the_browser_who_then_signs_in(
        backend: str, tmp_path: Path) -> None:
    import pyotp

    shots = _shots(tmp_path, backend)
    pair = Pair(tmp_path, backend)
    web_user(pair, HEKOU, "root", "admin", totp=False)
    try:
        await pair.start(HEKOU)
        base = pair.api(HEKOU)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
            ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
            ctx.set_default_timeout(10_000)
            page = await ctx.new_page()
            await sign_in(page, base, "root", None, "vi")
            await page.click("#switch-lang")
            await page.wait_for_selector("text=系统管理")
            await page.goto(base + "/app/admin")
            await page.fill("#new-user", "wang.fang")
            await page.select_option("#new-role", "officer")
            await page.select_option("#new-lang", "zh")
            await shot(page, shots, "zh-admin-add")
            await page.click("#add-user-button")
            await page.wait_for_selector("#totp-qr svg")
            password = await page.inner_text("#new-password")
            secret = await page.inner_text("#totp-secret")
            assert "secret=" + secret in await page.inner_text("#totp-uri")
            await shot(page, shots, "zh-admin-user-added")
            # the new officer signs in (in another browser) with what was shown
            other = await (await browser.new_context(
                viewport={"width": 1366, "height": 768})).new_page()
            await other.goto(f"{base}/app/signin")
            await other.fill("#user", "wang.fang")
            await other.fill("#password", password)
            await other.fill("#code", pyotp.TOTP(secret).now())
            await other.click("#signin")
            await other.wait_for_url(f"{base}/app/")
            assert "工作台" in await other.inner_text("nav")  # the language the admin chose
            # ... and changes the first password for one of their own (account page)
            await other.click("#account-link")
            await other.wait_for_url(f"{base}/app/account")
            mine = "红河-口岸 new password 2026"
            await other.fill("#current-password", password)
            await other.fill("#new-password", mine)
            await other.fill("#repeat-password", mine + "!")
            await other.click("#change-password")
            assert "不一致" in await other.inner_text("#password-problem")
            await other.fill("#current-password", password)
            await other.fill("#new-password", mine)
            await other.fill("#repeat-password", mine)
            await shot(other, shots, "zh-account-password")
            await other.click("#change-password")
            await other.wait_for_url(f"{base}/app/signin?changed=1&lang=zh")
            assert "密码已修改" in await other.inner_text("#password-changed")
            await other.fill("#user", "wang.fang")
            await other.fill("#password", mine)
            await other.fill("#code", pyotp.TOTP(secret).at(int(time.time()) + 30))
            await other.click("#signin")
            await other.wait_for_url(f"{base}/app/")
            # the admin resets the second factor, in Vietnamese: a new secret, shown once
            await page.click("#back-to-admin")
            await page.wait_for_url(f"{base}/app/admin")
            await page.click("#switch-lang")
            await page.wait_for_selector("text=Thêm người dùng")
            await page.click("#reset-totp-wang\\.fang")
            await page.wait_for_selector("#totp-qr svg")
            assert await page.inner_text("#totp-secret") != secret
            await shot(page, shots, "vi-admin-totp-reset")
            await other.reload()
            await other.wait_for_url(f"{base}/app/signin*")  # the session ended with it
            await page.goto(base + "/app/admin")
            await shot(page, shots, "vi-admin-users")
            await browser.close()
    finally:
        await pair.close()


@pytest.mark.parametrize(("backend", "lang"), [("sqlite", "vi"), (BACKENDS[-1], "zh")])
async def test_refusals_in_the_browser_in_the_users_language(
        backend: str, lang: str, tmp_path: Path) -> None:
    """A post without the CSRF token, a wrong second factor, a session past its idle timeout
    (made 6 s through the config) and a disabled user: each refused, the page the user sees
    in their language (the session's, or before sign-in the browser's), each logged."""
    import asyncio
    import json

    from webtools import code

    from gateway.node.home import set_user_disabled
    from gateway.protocol.glossary import term

    shots = _shots(tmp_path, backend)
    office = LAOCAI if lang == "vi" else HEKOU
    pair = Pair(tmp_path, backend, web_session_idle_minutes=0.1)
    secret = web_user(pair, office, "officer", exists=True)
    text = {k: term(f"web.{k}").text(lang)
            for k in ("csrf_rejected", "signin_failed", "session_expired")}
    try:
        gw = await pair.start(office)
        base = pair.api(office)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])

            async def new_page() -> Page:
                ctx = await browser.new_context(viewport={"width": 1366, "height": 768},
                                                locale="zh-CN" if lang == "zh" else "vi-VN")
                ctx.set_default_timeout(10_000)
                return await ctx.new_page()

            page = await new_page()
            await sign_in(page, base, "officer", secret, lang)
            if lang == "zh":  # the user's language, kept with the user
                await page.click("#switch-lang")
                await page.wait_for_selector("text=工作台")
            # 1. a post without the form's CSRF token (a forged or stale form)
            await page.goto(base + "/app/compose?type=case_notice")
            await page.evaluate("document.querySelector('form.compose input[name=csrf]')"
                                ".remove()")
            await page.click("#save-draft")
            assert await page.inner_text("#error-message") == text["csrf_rejected"]
            assert "CSRF_REJECTED" in await page.inner_text("h1")
            await shot(page, shots, f"{lang}-refused-csrf")
            # 2. a wrong second factor (a code from the future), before any session: the
            #    browser's language
            other = await new_page()
            await other.goto(base + "/app/signin")
            await other.fill("#user", "officer")
            await other.fill("#password", "correct horse battery staple")
            await other.fill("#code", code(secret, 5))
            await other.click("#signin")
            assert await other.inner_text("#signin-failed") == text["signin_failed"]
            await shot(other, shots, f"{lang}-refused-second-factor")
            # 3. the session idle past web_session_idle_minutes: back to sign-in, told why
            await page.wait_for_timeout(6500)
            await page.goto(base + "/app/inbox")
            await page.wait_for_url(f"{base}/app/signin?ended=1")
            assert await page.inner_text("#session-ended") == text["session_expired"]
            await shot(page, shots, f"{lang}-refused-expired")
            # 4. a disabled user: the live session ends at once, and sign-in is refused
            await other.fill("#user", "officer")
            await other.fill("#password", "correct horse battery staple")
            await other.fill("#code", code(secret, 1))
            await other.click("#signin")
            await other.wait_for_url(f"{base}/app/")
            await asyncio.to_thread(set_user_disabled, pair.homes[office], "officer", True)
            await other.goto(base + "/app/inbox")
            await other.wait_for_url(f"{base}/app/signin?ended=1")
            assert await other.inner_text("#session-ended") == text["session_expired"]
            await other.fill("#user", "officer")
            await other.fill("#password", "correct horse battery staple")
            await other.fill("#code", code(secret, 2))
            await other.click("#signin")
            assert await other.inner_text("#signin-failed") == text["signin_failed"]
            await shot(other, shots, f"{lang}-refused-disabled")
            await browser.close()
        bundle = await gw.store.call(gw.store.sync.export_audit)
        refused = [(x["code"], x.get("kind")) for x in
                   (json.loads(bytes(b)) for b in bundle["leaves"])
                   if x["type"] == "web.refused"]
        assert refused == [("CSRF_REJECTED", None), ("SIGN_IN_FAILED", "second_factor"),
                           ("SESSION_EXPIRED", "idle"), ("SESSION_EXPIRED", "disabled"),
                           ("SIGN_IN_FAILED", "disabled")], refused
    finally:
        await pair.close()
