"""The web app in a real browser (Debian's chromium through Playwright) against two real
gateways: a Lào Cai officer signs in with password and TOTP, composes the scenario's
identification request from the blank generated form and sends it; a Hekou officer switches
to Chinese, opens it and sees it in Chinese; a Hekou auditor gets 403 on its content.

Screenshots of every page in vi and zh go to ``$BLO_SCREENSHOTS`` (default: the test's
temporary directory)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import BROWSER_PG, BROWSER_SQLITE, Pair, wait_for
from webtools import CHROMIUM, Page, async_playwright, needs_browser, shot, sign_in, web_user

from gateway.protocol.scenario import HEKOU, LAOCAI

pytestmark = needs_browser


@pytest.mark.parametrize("backend", BROWSER_SQLITE)
async def test_officers_send_and_open_an_identification_request_in_the_browser(
        backend: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("BLO_SCREENSHOTS") or tmp_path / "shots") / backend
    shots.mkdir(parents=True, exist_ok=True)
    pair = Pair(tmp_path, backend)
    lc_secret = web_user(pair, LAOCAI, "officer", exists=True)
    hk_secret = web_user(pair, HEKOU, "officer", exists=True)
    web_user(pair, HEKOU, "auditor", "auditor", exists=True, totp=False)
    try:
        await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        lc_base, hk_base = pair.api(LAOCAI), pair.api(HEKOU)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
            ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
            ctx.set_default_timeout(10_000)
            page = await ctx.new_page()
            script_errors: list[str] = []
            page.on("console", lambda m: script_errors.append(m.text)
                    if "Content Security Policy" in m.text else None)

            # --- Lào Cai: sign in, compose from the blank form, send -------------------
            await sign_in(page, lc_base, "officer", lc_secret, "vi")
            await shot(page, shots, "vi-dashboard")
            t0, clicks, fields = time.monotonic(), 0, 0
            await page.click("text=Soạn thông điệp")
            await page.click("#type-identification_request")
            clicks += 2
            await shot(page, shots, "vi-compose-blank")
            await page.check(f"#to-{HEKOU.replace('.', '-')}")
            await page.fill("#f-person-name-full_name", "Giàng Thị Mai")
            await page.fill("#f-person-name-hanzi", "王氏梅")
            await page.select_option("#f-kind", "4")
            await page.fill("#f-account-vi", "Cô ấy nói bị bán để kết hôn, không có giấy tờ.")
            await page.fill("#f-account-zh", "她说自己被卖去结婚，没有证件。")
            await page.fill("#f-found_time", "2026-03-04T10:40")
            await page.select_option("select[name='found_time.zone']", "Asia/Shanghai")
            clicks += 2
            fields += 7
            # An alias added through the generated form's "add" button: typed values stay.
            await page.click("#add-person-aliases")
            clicks += 1
            await page.fill("#f-person-aliases-0-full_name", "Mai")
            fields += 1
            # Sent without the case reference: the error stands beside that field, in
            # Vietnamese, and nothing typed is lost.
            await page.click("#send")
            clicks += 1
            assert await page.locator("#f-context-case_reference-error").inner_text() == \
                "Bắt buộc phải điền"
            await shot(page, shots, "vi-compose-errors")
            assert await page.input_value("#f-person-name-full_name") == "Giàng Thị Mai"
            assert await page.input_value("#f-person-aliases-0-full_name") == "Mai"
            assert await page.input_value("#f-found_time") == "2026-03-04T10:40"
            assert await page.is_checked(f"#to-{HEKOU.replace('.', '-')}")
            await page.fill("#f-context-case_reference", "LC-2026-0042")
            await page.select_option("#f-context-priority", "3")
            fields += 2
            await page.click("#send")
            clicks += 1
            await page.wait_for_url(f"{lc_base}/app/sent?ok=1")
            compose_s = time.monotonic() - t0
            assert await page.locator("#sent-ok").count() == 1
            await shot(page, shots, "vi-sent")
            print(f"\ncompose+send: {compose_s:.2f} s, {fields} fields, {clicks} clicks")

            # --- Hekou: the officer switches to Chinese and opens it --------------------
            hk_ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
            hk_ctx.set_default_timeout(10_000)
            hk_page = await hk_ctx.new_page()
            await sign_in(hk_page, hk_base, "officer", hk_secret, "zh")
            await hk_page.click("#switch-lang")
            await hk_page.wait_for_selector("text=工作台")

            async def arrived() -> bool:
                rows = await hk.store.call(hk.store.sync.list_inbox, 10)
                return len(rows) == 1

            await wait_for(arrived, what="the request in Hekou's inbox")
            await hk_page.reload()
            await shot(hk_page, shots, "zh-dashboard")
            await hk_page.click("text=收件箱")
            await shot(hk_page, shots, "zh-inbox")
            await hk_page.click("table.list a >> text=受害人身份核查请求（协查通报）")
            title = await hk_page.locator("#message-title").inner_text()
            assert title == "受害人身份核查请求（协查通报）"
            content = await hk_page.locator("#content").inner_text()
            assert "姓名" in content and "Giàng Thị Mai" in content and "王氏梅" in content
            assert "特急" in await hk_page.inner_text("main")  # priority, in Chinese
            await shot(hk_page, shots, "zh-message")
            await hk_page.click("#side-by-side")
            await shot(hk_page, shots, "zh-message-both")
            await hk_page.click("text=案件")
            await shot(hk_page, shots, "zh-case")
            # the reply form comes pre-filled with the case reference and the recipient
            await hk_page.go_back()
            await hk_page.click("#reply")
            assert await hk_page.input_value("#f-context-case_reference") == "LC-2026-0042"
            assert await hk_page.is_checked(f"#to-{LAOCAI.replace('.', '-')}")
            await shot(hk_page, shots, "zh-compose-reply")
            # the other pages, in Chinese and (switched back) in Vietnamese
            for lang in ("zh", "vi"):
                for name, path in (("sent", "/app/sent"), ("choose", "/app/compose")):
                    await hk_page.goto(hk_base + path)
                    await shot(hk_page, shots, f"{lang}-{name}")
                if lang == "zh":
                    await hk_page.click("#switch-lang")
            await hk_page.goto(hk_base + "/app/inbox")
            await shot(hk_page, shots, "vi-inbox")
            mid_link = hk_page.locator("table.list a").first
            href = await mid_link.get_attribute("href")
            assert href is not None
            await mid_link.click()
            await shot(hk_page, shots, "vi-message")

            # --- the Hekou auditor: the list yes, the content never --------------------
            au_page = await (await browser.new_context()).new_page()
            await sign_in(au_page, hk_base, "auditor", None, "zh")
            await au_page.goto(hk_base + "/app/inbox")
            assert await au_page.locator("table.list a").count() == 0  # no link to content
            resp = await au_page.goto(hk_base + href)
            assert resp is not None and resp.status == 403
            assert "FORBIDDEN" in await au_page.inner_text("main")
            await shot(au_page, shots, "vi-auditor-403")
            await browser.close()
        assert not script_errors, script_errors  # the CSP blocked nothing the pages use

        engine = sa.create_engine(hk.config.db_url) if backend == "sqlite" else None
        if engine is not None:
            with engine.connect() as c:
                leaves = [bytes(r[0]).decode() for r in c.execute(
                    sa.text("SELECT data FROM audit_leaves ORDER BY idx"))]
            engine.dispose()
            assert any('"type":"web.refused"' in x and '"code":"FORBIDDEN"' in x
                       and '"user":"auditor"' in x for x in leaves)
            assert any('"type":"message.opened"' in x and '"user":"officer"' in x
                       for x in leaves)
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BROWSER_PG)
async def test_alert_statistics_audit_and_admin_pages_in_the_browser(
        backend: str, tmp_path: Path) -> None:
    """A Hekou officer on the dashboard sees the banner of an urgent message from Lào Cai
    within 5 s (the page's script, the stream, the CSP together); the statistics, auditor
    (with a verified bundle) and admin pages, each shot in vi and zh."""
    import asyncio

    import aiohttp

    from gateway.node.bundle import export_bundle
    from gateway.protocol.messages import Payload, pb

    shots = Path(os.environ.get("BLO_SCREENSHOTS") or tmp_path / "shots") / backend
    shots.mkdir(parents=True, exist_ok=True)
    pair = Pair(tmp_path, backend)
    hk_secret = web_user(pair, HEKOU, "officer", exists=True)
    web_user(pair, HEKOU, "auditor", "auditor", exists=True, totp=False)
    web_user(pair, HEKOU, "root", "admin", totp=False)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        base = pair.api(HEKOU)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
            script_errors: list[str] = []

            async def new_page() -> Page:
                ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
                ctx.set_default_timeout(10_000)
                page = await ctx.new_page()
                page.on("console", lambda m: script_errors.append(m.text)
                        if "Content Security Policy" in m.text else None)
                return page

            async def both(page: Page, path: str, name: str) -> None:
                """Shoot ``path`` in vi, switch to zh, shoot, switch back."""
                await page.goto(base + path)
                await shot(page, shots, f"vi-{name}")
                await page.click("#switch-lang")
                await page.wait_for_load_state()
                await shot(page, shots, f"zh-{name}")
                await page.click("#switch-lang")
                await page.wait_for_load_state()

            page = await new_page()
            await sign_in(page, base, "officer", hk_secret, "vi")
            await page.wait_for_timeout(300)  # the stream is open
            async with aiohttp.ClientSession() as http:
                urgent = Payload(pb.CaseNotice(
                    context=pb.MessageContext(case_reference="LC-URG-1", priority=3,
                                              handling_code=1),
                    offence=pb.LocalizedText(vi="khẩn", zh="紧急"))).to_dict()
                t0 = time.monotonic()
                await pair.officer(http, LAOCAI).send([HEKOU], urgent)
                await page.wait_for_selector("#alert-banner:not([hidden])", timeout=5000)
                delay = time.monotonic() - t0
            assert "Thông điệp hỏa tốc mới" in await page.inner_text("#alert-link")
            assert await page.inner_text("#unread") == "1"
            print(f"\nalert in the browser: {delay:.2f} s after the send")
            await shot(page, shots, "vi-alert")
            await both(page, "/app/stats", "stats")
            assert await page.locator("#chart rect.bar").count() == 3

            au = await new_page()
            await sign_in(au, base, "auditor", None, "vi")
            bundle = tmp_path / "hekou.tar"
            await asyncio.to_thread(export_bundle, pair.homes[HEKOU], bundle)
            await au.goto(base + "/app/audit")
            await au.set_input_files("#bundle-file", str(bundle))
            await au.click("#verify")
            await au.wait_for_selector("#verdict")
            assert await au.inner_text("#verdict") == "PASS"
            await shot(au, shots, "vi-audit-verified")
            await both(au, "/app/audit", "audit")

            ad = await new_page()
            await sign_in(ad, base, "root", None, "vi")
            await both(ad, "/app/admin", "admin")
            await browser.close()
        assert not script_errors, script_errors
    finally:
        await pair.close()
