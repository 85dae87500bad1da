"""The web app with twenty offices in the directory (``BORDER_OFFICES``), in a real browser
(Debian's chromium through Playwright) against real gateways: Lào Cai and Hekou run, the
seventeen others are listed with endpoints where nothing listens.

A Lào Cai officer reads the peer list of the dashboard as a list of nineteen needs to be
read: China's ten offices first, then Vietnam's nine, each group in the order of the ids
(the same in both languages); sends one identification request to Hekou and to Mã Quan
(down) from the compose form, whose nineteen recipients are grouped the same way; Hekou
receives it, Mã Quan's copy waits in the queue and the dashboard says so. In Chinese the
groups are named in Chinese. Screenshots go to ``$BLO_SCREENSHOTS`` (default: the test's
temporary directory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness import BROWSER_SQLITE, Pair, wait_for
from webtools import CHROMIUM, Page, async_playwright, needs_browser, sign_in, web_user

from gateway.cli.provision import BORDER_OFFICES
from gateway.protocol.scenario import HEKOU, LAOCAI

pytestmark = needs_browser

MAGUAN = "cn.yunnan.maguan.blo"
CN = sorted(o.office_id for o in BORDER_OFFICES if o.country == "CN")
VN = sorted(o.office_id for o in BORDER_OFFICES if o.country == "VN" and o.office_id != LAOCAI)


async def _groups(page: Page, selector: str, item: str, attr: str) -> list[tuple[str, list[str]]]:
    """(data-country, [the ``attr`` of each ``item`` in it]) of every group, in page order."""
    out = []
    for group in await page.locator(selector).all():
        members = [await m.get_attribute(attr) or "" for m in await group.locator(item).all()]
        out.append((await group.get_attribute("data-country") or "", members))
    return out


@pytest.mark.parametrize("backend", BROWSER_SQLITE)
async def test_the_web_app_lists_nineteen_peers_by_country(backend: str,
                                                            tmp_path: Path) -> None:
    assert len(BORDER_OFFICES) == 20 and len(CN) == 10 and len(VN) == 9
    shots = Path(os.environ.get("BLO_SCREENSHOTS") or tmp_path / "shots") / "twenty"
    shots.mkdir(parents=True, exist_ok=True)
    pair = Pair(tmp_path, backend, offices=BORDER_OFFICES)
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
            await sign_in(page, base, "officer", secret, "vi")

            # The dashboard: China's ten first (the other country), then Vietnam's nine.
            assert await _groups(page, "#peers tbody.peer-group", "tr[data-office]",
                                 "data-office") == [("CN", CN), ("VN", VN)]
            heads = await page.locator("#peers tr.group th").all_inner_texts()
            assert heads == ["Trung Quốc (10)", "Việt Nam (9)"]

            # The compose form: the same nineteen, grouped the same way.
            await page.click("text=Soạn thông điệp")
            await page.click("#type-identification_request")
            assert await _groups(page, ".recipients", "input[name=to]", "value") == [
                ("CN", CN), ("VN", VN)]
            await page.screenshot(path=str(shots / "vi-compose.png"), full_page=True)
            for office in (HEKOU, MAGUAN):
                await page.check(f"#to-{office.replace('.', '-')}")
            await page.fill("#f-context-case_reference", "LC-2026-0077")
            await page.fill("#f-person-name-full_name", "Lò Thị Hoa")
            await page.fill("#f-person-name-hanzi", "罗氏花")
            await page.select_option("#f-kind", "4")
            await page.fill("#f-account-vi", "Được tìm thấy tại chợ biên giới, không có giấy tờ.")
            await page.fill("#f-account-zh", "在边境集市被发现，没有证件。")
            await page.fill("#f-found_time", "2026-03-04T10:40")
            await page.select_option("select[name='found_time.zone']", "Asia/Shanghai")
            await page.click("#send")
            await page.wait_for_url(f"{base}/app/sent?ok=1")

            async def arrived() -> bool:
                return len(await hk.store.call(hk.store.sync.list_inbox, 10)) == 1

            await wait_for(arrived, what="the request in Hekou's inbox")

            # Hekou's copy is delivered; Mã Quan's waits (nothing listens there).
            async def shown() -> bool:
                await page.goto(f"{base}/app/")
                row = page.locator(f"#peers tr[data-office='{MAGUAN}'] td")
                hk_row = page.locator(f"#peers tr[data-office='{HEKOU}'] td")
                return (await row.nth(2).inner_text() == "1"
                        and await hk_row.nth(1).inner_text() == "Đang kết nối")

            await wait_for(shown, what="Mã Quan's queued copy and Hekou up on the dashboard")
            assert await page.locator(f"#peers tr[data-office='{MAGUAN}'] td").nth(1) \
                .inner_text() in ("Mất kết nối", "Chưa rõ")
            await page.screenshot(path=str(shots / "vi-dashboard.png"), full_page=True)

            # In Chinese, the groups are named in Chinese, in the same order.
            await page.click("#switch-lang")
            await page.wait_for_selector("text=工作台")
            heads = await page.locator("#peers tr.group th").all_inner_texts()
            assert heads == ["中国 (10)", "越南 (9)"]
            assert await _groups(page, "#peers tbody.peer-group", "tr[data-office]",
                                 "data-office") == [("CN", CN), ("VN", VN)]
            await page.screenshot(path=str(shots / "zh-dashboard.png"), full_page=True)
            await browser.close()
        assert lc.office_id == LAOCAI
    finally:
        await pair.close()
