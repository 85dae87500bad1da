"""The handover and the message actions in a real browser (Debian's chromium through
Playwright) against two real gateways, on both backends:

* a Lào Cai Border Guard user (password + TOTP) plans the scenario's handover with the
  generated form; Hekou's Border Guard user, in Chinese, agrees; Lào Cai records it with the
  pre-filled record form; Hekou countersigns; the PDF downloads and reads back in both
  languages with both signatures verified (pdftotext);
* a Hekou officer acknowledges one message and rejects another (the missing reason shown
  beside its field first); the Lào Cai officer sees both states; forwarding a restricted
  (H2) message is refused with the bilingual explanation; the print stylesheet hides the
  navigation and the forms;
* a Hekou supervisor sees every case of the office.

Screenshots of the new pages in vi and zh go to ``$BLO_SCREENSHOTS`` like the other browser
tests'. The handover's time and clicks are printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from harness import BROWSER_PG, Pair, wait_for
from test_web_roles import _notice
from webtools import CHROMIUM, async_playwright, needs_browser, sign_in, web_user
from webtools import shot as save_shot

from gateway.node.gateway import Gateway
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD

if async_playwright is not None:
    from playwright.async_api import Browser, Page

pytestmark = needs_browser


@pytest.mark.parametrize("backend", BROWSER_PG)
async def test_border_guards_hand_over_and_officers_act_on_messages_in_the_browser(
        backend: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("BLO_SCREENSHOTS") or tmp_path / "shots") / backend
    shots.mkdir(parents=True, exist_ok=True)
    pair = Pair(tmp_path, backend)
    secrets = {
        ("lc", "bg"): web_user(pair, LAOCAI, "bg.laocai", "border_guard"),
        ("hk", "bg"): web_user(pair, HEKOU, "bg.hekou", "border_guard"),
        ("lc", "officer"): web_user(pair, LAOCAI, "officer", exists=True),
        ("hk", "officer"): web_user(pair, HEKOU, "officer", exists=True),
        ("hk", "sup"): web_user(pair, HEKOU, "sup.hekou", "supervisor"),
    }
    try:
        lc = await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        lc_base, hk_base = pair.api(LAOCAI), pair.api(HEKOU)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox", "--disable-gpu"])
            csp: list[str] = []

            async def new_page(b: Browser) -> Page:
                ctx = await b.new_context(viewport={"width": 1366, "height": 768},
                                          accept_downloads=True)
                ctx.set_default_timeout(10_000)
                page = await ctx.new_page()
                page.on("console", lambda m: csp.append(m.text)
                        if "Content Security Policy" in m.text else None)
                return page

            shooting = [0.0]  # seconds spent on screenshots (not the user's time)

            async def shot(page: Page, name: str) -> None:
                t = time.monotonic()
                await save_shot(page, shots, name)
                shooting[0] += time.monotonic() - t

            async def both(page: Page, name: str, lang: str) -> None:
                """Shoot the page in ``lang``, switch language, shoot, switch back."""
                t = time.monotonic()
                other = "zh" if lang == "vi" else "vi"
                await save_shot(page, shots, f"{lang}-{name}")
                await page.click("#switch-lang")
                await page.wait_for_load_state()
                await save_shot(page, shots, f"{other}-{name}")
                await page.click("#switch-lang")
                await page.wait_for_load_state()
                shooting[0] += time.monotonic() - t

            waited = [0.0]  # seconds spent waiting for the other gateway (delivery)

            async def state(gw: Gateway, root: str, want: str) -> None:
                async def reached() -> bool:
                    got = await gw.store.call(gw.store.sync.case_state, root)
                    return bool(got == ("handover", want))
                t = time.monotonic()
                await wait_for(reached, what=f"handover {want}")
                waited[0] += time.monotonic() - t

            lcp = await new_page(browser)
            hkp = await new_page(browser)
            await sign_in(lcp, lc_base, "bg.laocai", secrets["lc", "bg"], "vi")
            await sign_in(hkp, hk_base, "bg.hekou", secrets["hk", "bg"], "zh")
            await hkp.click("#switch-lang")  # the user's language: Chinese
            await hkp.wait_for_selector("text=工作台")

            # --- plan: Lào Cai's Border Guard, the generated repatriation notice form -----
            t0, clicks = time.monotonic(), 0
            await lcp.click("text=Soạn thông điệp")
            await lcp.click("#type-repatriation_notice")
            clicks += 2
            await lcp.check(f"#to-{HEKOU.replace('.', '-')}")
            await lcp.fill("#f-context-case_reference", "LC-2026-0042")
            await lcp.select_option("#f-step", "1")
            await lcp.fill("#f-proposed_time", "2026-03-08T10:00")
            await lcp.fill("#f-border_gate-vi", "Cửa khẩu quốc tế Lào Cai – Hà Khẩu")
            await lcp.fill("#f-border_gate-zh", "老街国际口岸 / 河口口岸")
            await lcp.fill("#f-handover_point-vi", "Cột mốc trên cầu Hồ Kiều")
            await lcp.fill("#f-handover_point-zh", "中越界河大桥界碑处")
            await lcp.fill("#f-handing_over_unit-name-zh", "河口出入境边防检查站")
            await lcp.fill("#f-receiving_unit-name-vi", "Đồn Biên phòng cửa khẩu quốc tế Lào Cai")
            await lcp.click("#add-persons")
            await lcp.fill("#f-persons-0-person-name-full_name", "Giàng Thị Mai")
            await lcp.fill("#f-persons-0-person-name-hanzi", "王氏梅")
            clicks += 3  # recipient, step, add person
            await shot(lcp, "vi-compose-repatriation")
            await lcp.click("#send")
            clicks += 1
            await lcp.wait_for_url(f"{lc_base}/app/sent?ok=1")
            await lcp.click("table.list a.case-link")
            clicks += 1
            root = lcp.url.rsplit("/", 1)[1]
            assert await lcp.inner_text("#state") == "Đã đề xuất"
            await both(lcp, "case-handover-proposed", "vi")

            # --- agree: Hekou's Border Guard, in Chinese --------------------------------
            await state(hk, root, "proposed")
            await hkp.goto(hk_base + "/app/inbox")
            await hkp.click("table.list a >> text=遣返通知")
            await shot(hkp, "zh-message-repatriation")
            await hkp.click("#case-link")
            clicks += 2
            assert "遣返移交步骤" in await hkp.inner_text("#handover")
            await shot(hkp, "zh-case-handover-to-agree")
            t1 = time.monotonic()  # the counter-proposal form, shown (not sent): not timed
            await hkp.goto(f"{hk_base}/app/cases/{root}/counter")
            await save_shot(hkp, shots, "zh-handover-counter-form")
            await hkp.go_back()
            shooting[0] += time.monotonic() - t1
            await hkp.fill("#agree-remarks", "同意于北京时间14:00交接。")
            await hkp.click("#agree")
            clicks += 1
            await hkp.wait_for_selector("#done")
            assert await hkp.inner_text("#state") == "已商定"

            # --- record: Lào Cai, the form pre-filled from the agreed plan ---------------
            await state(lc, root, "agreed")
            await lcp.reload()
            await lcp.click("#record-link")
            clicks += 1
            assert await lcp.input_value("#f-border_gate-vi") == \
                "Cửa khẩu quốc tế Lào Cai – Hà Khẩu"
            assert await lcp.input_value("#f-persons-0-person-name-full_name") == \
                "Giàng Thị Mai"
            await both(lcp, "handover-record-form", "vi")  # before typing: a switch reloads
            await lcp.select_option("#f-persons-0-health", "1")
            await lcp.click("#add-officers")
            await lcp.fill("#f-officers-0-name-full_name", "Nguyễn Văn An")
            await lcp.fill("#f-officers-0-rank-vi", "Thiếu tá")
            clicks += 2
            await lcp.click("#send-record")
            clicks += 1
            await lcp.wait_for_selector("#done")
            assert await lcp.inner_text("#state") == "Đã bàn giao"

            # --- countersign: Hekou, in Chinese -----------------------------------------
            await state(hk, root, "executed")
            await hkp.reload()
            await shot(hkp, "zh-case-handover-to-countersign")
            await hkp.click("#countersign")
            clicks += 1
            await hkp.wait_for_selector("#done")

            async def both_here() -> bool:  # Lào Cai's own signature follows its record
                if (await hkp.inner_text("#signatures")).count("签名已验证") == 2:
                    return True
                await hkp.reload()
                return False
            await wait_for(both_here, what="both signatures in Hekou")

            # --- both signatures in Lào Cai; the PDF --------------------------------------
            async def signed() -> bool:
                await lcp.reload()
                return (await lcp.inner_text("#signatures")).count("Đã kiểm tra chữ ký") == 2
            t1 = time.monotonic()
            await wait_for(signed, what="Hekou's signature in Lào Cai")
            waited[0] += time.monotonic() - t1
            async with lcp.expect_download() as dl:
                await lcp.click("#record-pdf")
                clicks += 1
            pdf = Path(await (await dl.value).path())
            handover_s = time.monotonic() - t0
            user_s = handover_s - shooting[0]
            print(f"\nhandover in the browser: {user_s:.1f} s (plan to PDF, both sides, "
                  f"without {shooting[0]:.1f} s of screenshots), of which {waited[0]:.1f} s "
                  f"waiting for delivery; {clicks} clicks")
            await both(lcp, "case-handover-complete", "vi")
            if shutil.which("pdftotext"):
                text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"],
                                      capture_output=True, check=True).stdout.decode()
                assert "Biên bản bàn giao nạn nhân" in text and "受害人交接记录" in text
                assert text.count("Đã kiểm tra chữ ký") == 2 and text.count("签名已验证") == 2
                assert "Nguyễn Văn An" in text and "Giàng Thị Mai" in text
            else:
                assert pdf.read_bytes().startswith(b"%PDF")

            # --- message actions: the Hekou officer, the Lào Cai officer sees --------------
            async with aiohttp.ClientSession() as http:
                o = pair.officer(http, LAOCAI)
                ack_id = await o.send([HEKOU], _notice("LC-ACT-1"))
                rej_id = await o.send([HEKOU], _notice("LC-ACT-2"))
                h2_id = await o.send([HEKOU], _notice("LC-ACT-H2", handling=3))
                hko = pair.officer(http, HEKOU)

                async def three() -> bool:
                    ids = {m["message_id"] for m in await hko.inbox()}
                    return {ack_id, rej_id, h2_id} <= ids
                await wait_for(three, what="three notices in Hekou")
            op = await new_page(browser)
            await sign_in(op, hk_base, "officer", secrets["hk", "officer"], "vi")
            await op.goto(f"{hk_base}/app/messages/{ack_id}")
            await both(op, "message-actions", "vi")
            await op.click("#acknowledge")
            await op.wait_for_selector("#done")
            await op.goto(f"{hk_base}/app/messages/{rej_id}")
            await op.click("#reject")
            assert await op.inner_text("#reason-error") == "Bắt buộc phải điền"
            await save_shot(op, shots, "vi-message-reject-error")
            await op.click("#switch-lang")  # the same in Chinese
            await op.click("#reject")
            assert await op.inner_text("#reason-error") == "必填"
            await save_shot(op, shots, "zh-message-reject-error")
            await op.select_option("#reason-code", "1")
            await op.fill("#reason", "Thiếu ảnh và mô tả nhận dạng.")
            await op.click("#reject")
            await op.wait_for_selector("#done")
            await op.goto(f"{hk_base}/app/messages/{h2_id}")
            await op.check(f"#fwd-{LAOCAI_BORDER_GUARD.replace('.', '-')}")
            await op.click("#forward")
            refusal = await op.inner_text("#forward-refused")
            assert "H2 – Không chuyển cho bên thứ ba" in refusal
            assert "H2 – 不得向第三方转交" in refusal
            await save_shot(op, shots, "zh-message-forward-refused")
            await op.click("#switch-lang")
            await op.check(f"#fwd-{LAOCAI_BORDER_GUARD.replace('.', '-')}")
            await op.click("#forward")
            assert "H2 – 不得向第三方转交" in await op.inner_text("#forward-refused")
            await save_shot(op, shots, "vi-message-forward-refused")
            # print: the stylesheet leaves the content only
            await op.emulate_media(media="print")
            assert await op.locator("header.top").is_hidden()
            assert await op.locator("#actions").is_hidden()
            assert await op.locator("#content").is_visible()
            await op.emulate_media(media="screen")

            sp = await new_page(browser)
            await sign_in(sp, lc_base, "officer", secrets["lc", "officer"], "zh")
            await sp.click("#switch-lang")
            for mid, want in ((ack_id, "已确认收悉"), (rej_id, "已拒绝")):
                async def moved(mid: str = mid, want: str = want) -> bool:
                    await sp.goto(f"{lc_base}/app/cases/{mid}")
                    return await sp.inner_text("#state") == want
                await wait_for(moved, what=f"the sender sees {want}")
            await save_shot(sp, shots, "zh-case-rejected")

            # --- the supervisor: every case of the office --------------------------------
            su = await new_page(browser)
            await sign_in(su, hk_base, "sup.hekou", secrets["hk", "sup"], "vi")
            await su.click("#switch-lang")
            await su.click("text=本单位全部案件")
            assert await su.locator("#cases tbody tr").count() == 4
            await both(su, "cases-supervisor", "zh")
            await browser.close()
        assert not csp, csp
    finally:
        await pair.close()
