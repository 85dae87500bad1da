"""The Border Guard and supervisor roles, and the actions on a received message, over real HTTP
against real gateways, as a browser sends them.

* ``border_guard`` sees, opens and composes only repatriation notices and handover records
  (and their cases); ``supervisor`` reads everything, sees every case of the office and the
  statistics, and sends nothing; both need a second factor. Everything else is a 403 and a
  ``web.refused`` audit leaf.
* Acknowledge, reject (the written reason required, the error beside the field) and forward
  (refused, in both languages, where the handling code forbids it) are POSTs with the CSRF
  token and a per-form idempotency key; the sender sees the new state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import BACKENDS, Pair, wait_for
from webtools import Browser, web_user

from gateway.cli import main as cli_main
from gateway.node.gateway import Gateway
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads


def _notice(ref: str, handling: int = 1) -> dict[str, Any]:
    return Payload(pb.CaseNotice(
        context=pb.MessageContext(case_reference=ref, priority=2, handling_code=handling),
        offence=pb.LocalizedText(vi="Mua bán người", zh="拐卖人口", original=1))).to_dict()


def _plan() -> dict[str, Any]:
    return next(s.payload for s in case_payloads()
                if s.payload.body.DESCRIPTOR.name == "RepatriationNotice").to_dict()


async def _leaves(gw: Gateway) -> list[dict[str, Any]]:
    bundle = await gw.store.call(gw.store.sync.export_audit)
    return [json.loads(bytes(x)) for x in bundle["leaves"]]


def _refused(leaves: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(x["code"], x.get("kind", ""), x.get("user", "")) for x in leaves
            if x["type"] == "web.refused"]


async def _signed_in(pair: Pair, office: str, user: str, role: str, *,
                     exists: bool = False, lang: str = "vi") -> Browser:
    secret = web_user(pair, office, user, role, exists=exists)
    b = Browser(pair.api(office))
    assert (await b.sign_in(user, secret))[0] == 303
    await b.get("/app/")
    if lang != "vi":
        assert (await b.post("/app/lang", {"lang": lang}))[0] == 303
    return b


async def _arrived(pair: Pair, office: str, n: int) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        o = pair.officer(http, office)

        async def enough() -> bool:
            return len(await o.inbox()) >= n
        await wait_for(enough, what=f"{n} messages in {office}")
        return await o.inbox()


def _form(html: str, form_id: str) -> dict[str, str]:
    """The hidden fields (CSRF token, idempotency key) of one form of a page."""
    part = html.split(f'id="{form_id}"')[1].split("</form>", maxsplit=1)[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', part))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_border_guard_and_supervisor_see_what_their_role_allows(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        async with aiohttp.ClientSession() as http:
            lc = pair.officer(http, LAOCAI)
            notice = await lc.send([HEKOU], _notice("ROLE-1"))
            plan = await lc.send([HEKOU], _plan())
        await _arrived(pair, HEKOU, 2)
        home = str(pair.homes[HEKOU])
        # the CLI takes both roles; both read content, so both need a second factor
        assert cli_main(["users", "add", "--home", home, "--name", "bg.hekou",
                         "--role", "border_guard"]) == 0
        assert cli_main(["users", "add", "--home", home, "--name", "sup.hekou",
                         "--role", "supervisor"]) == 0
        web_user(pair, HEKOU, "bg.hekou", "border_guard", exists=True, totp=False)
        b = Browser(pair.api(HEKOU))
        st, text, _ = await b.sign_in("bg.hekou", None)
        assert st == 403 and "xác thực hai lớp" in text
        await b.close()
        bg = await _signed_in(pair, HEKOU, "bg.hekou", "border_guard", exists=True)
        sup = await _signed_in(pair, HEKOU, "sup.hekou", "supervisor", exists=True, lang="zh")
        officer = await _signed_in(pair, HEKOU, "officer", "officer", exists=True)
        try:
            # Border Guard: only the repatriation notice, its case and its two types
            st, html, _ = await bg.get("/app/inbox")
            assert st == 200 and f"/app/messages/{plan}" in html
            assert f"/app/messages/{notice}" not in html and "ROLE-1" not in html
            assert "(1)" in html.split("</h1>")[0]
            st, html, _ = await bg.get("/app/")
            assert "ROLE-1" not in html and "Bộ đội Biên phòng" in html
            assert (await bg.get(f"/app/messages/{plan}"))[0] == 200
            assert (await bg.get(f"/app/messages/{notice}"))[0] == 403
            assert (await bg.get(f"/app/cases/{notice}"))[0] == 403
            st, html, _ = await bg.get(f"/app/cases/{plan}")
            assert st == 200 and 'id="handover"' in html
            st, html, _ = await bg.get("/app/compose")
            assert st == 200 and re.findall(r'id="type-([a-z_]+)"', html) == [
                "repatriation_notice", "handover_record"]
            assert (await bg.get("/app/compose?type=repatriation_notice"))[0] == 200
            assert (await bg.get("/app/compose?type=case_notice"))[0] == 403
            assert (await bg.post("/app/compose", {"type": "case_notice", "to": LAOCAI,
                                                   "context.case_reference": "X"}))[0] == 403
            assert (await bg.get("/app/stats"))[0] == 403
            assert (await bg.get("/app/cases"))[0] == 403
            # Supervisor: reads everything, every case, statistics; composes and acts on nothing
            st, html, _ = await sup.get("/app/inbox")
            assert f"/app/messages/{plan}" in html and f"/app/messages/{notice}" in html
            st, html, _ = await sup.get(f"/app/messages/{notice}")
            assert st == 200 and "拐卖人口" in html and 'id="actions"' not in html
            st, html, _ = await sup.get("/app/cases")
            assert st == 200 and "ROLE-1" in html and "LC-2026-0042" in html
            assert "本单位全部案件" in html and "主管领导" in html
            st, html, _ = await sup.get("/app/cases?state=proposed")
            assert "LC-2026-0042" in html and "ROLE-1" not in html
            assert (await sup.get("/app/stats"))[0] == 200
            assert (await sup.get("/app/compose"))[0] == 403
            st, html, _ = await officer.get(f"/app/messages/{notice}")
            ack = _form(html, "ack-form")
            assert (await sup.post(f"/app/messages/{notice}/acknowledge",
                                   {"idem": ack["idem"]}))[0] == 403
            # the officer: no list of every case (the supervisor's)
            assert (await officer.get("/app/cases"))[0] == 403
        finally:
            for x in (bg, sup, officer):
                await x.close()
        assert _refused(await _leaves(hk)) == [
            ("SECOND_FACTOR_MISSING", "", "bg.hekou"),
            ("FORBIDDEN", "", "bg.hekou"),            # the case notice's page
            ("FORBIDDEN", "case", "bg.hekou"),
            ("FORBIDDEN", "compose", "bg.hekou"), ("FORBIDDEN", "compose", "bg.hekou"),
            ("FORBIDDEN", "stats", "bg.hekou"), ("FORBIDDEN", "cases", "bg.hekou"),
            ("FORBIDDEN", "compose", "sup.hekou"),
            ("FORBIDDEN", "acknowledge", "sup.hekou"),
            ("FORBIDDEN", "cases", "officer")]
        # the bearer API: a supervisor reads, a Border Guard sends only its types
        for user, role in (("sup.api", "supervisor"), ("bg.api", "border_guard")):
            from gateway.node.home import add_user

            pair.tokens[HEKOU][user] = add_user(pair.homes[HEKOU], user, role).read_text().strip()
        async with aiohttp.ClientSession() as http:
            s = pair.officer(http, HEKOU, "sup.api")
            assert len((await s.call("GET", "/api/v1/inbox", expect=200))["messages"]) == 2
            await s.call("GET", f"/api/v1/inbox/{notice}", expect=200)
            await s.call("POST", "/api/v1/messages",
                         {"to": [LAOCAI], "payload": _notice("X")}, expect=403)
            g = pair.officer(http, HEKOU, "bg.api")
            await g.call("GET", f"/api/v1/inbox/{notice}", expect=403)
            await g.call("GET", f"/api/v1/inbox/{plan}", expect=200)
            await g.call("POST", "/api/v1/messages",
                         {"to": [LAOCAI], "payload": _notice("X")}, expect=403)
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_acknowledge_reject_with_reason_and_forward_within_the_handling_code(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        lcg = await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        async with aiohttp.ClientSession() as http:
            lc = pair.officer(http, LAOCAI)
            a = await lc.send([HEKOU], _notice("ACT-A"))
            b = await lc.send([HEKOU], _notice("ACT-B"))
            h2 = await lc.send([HEKOU], _notice("ACT-H2", handling=3))
        await _arrived(pair, HEKOU, 3)
        officer = await _signed_in(pair, HEKOU, "officer", "officer", exists=True)
        sender = await _signed_in(pair, LAOCAI, "officer", "officer", exists=True, lang="zh")
        try:
            # acknowledge: one message even when the form is posted twice
            st, html, _ = await officer.get(f"/app/messages/{a}")
            assert st == 200 and 'media="print"' in html and 'id="print"' in html
            assert "<script>" not in html and "style=" not in html
            form = _form(html, "ack-form")
            for _ in range(2):
                st, _, h = await officer.post(f"/app/messages/{a}/acknowledge",
                                              {"idem": form["idem"], "remarks": "Đã nhận."})
                assert st == 303 and h["Location"] == f"/app/messages/{a}?done=acknowledged"
            st, html, _ = await officer.get(f"/app/messages/{a}?done=acknowledged")
            assert 'id="done"' in html and "Đã xác nhận nhận" in html  # the item's state
            # the same key with other fields: refused
            st, html, _ = await officer.post(f"/app/messages/{a}/acknowledge",
                                             {"idem": form["idem"], "remarks": "khác"})
            assert st == 422 and "Biểu mẫu này đã được gửi với nội dung khác" in html
            # a second acknowledgement (a new form): the notice is acknowledged already
            st, html, _ = await officer.post(f"/app/messages/{a}/acknowledge",
                                             {"idem": "second-form-key"})
            assert st == 409 and "INVALID_TRANSITION" in html
            assert "Không thực hiện được ở bước hiện tại" in html
            # no key: refused, nothing sent
            assert (await officer.post(f"/app/messages/{a}/acknowledge", {}))[0] == 400
            # reject: the written reason is required, the error beside the field
            st, html, _ = await officer.get(f"/app/messages/{b}")
            form = _form(html, "reject-form")
            st, html, _ = await officer.post(f"/app/messages/{b}/reject", {
                "idem": form["idem"], "reason_code": "3", "reason": "  "})
            assert st == 400 and 'id="reason-error"' in html and "Bắt buộc phải điền" in html
            assert '<option value="3" selected>' in html
            st, _, h = await officer.post(f"/app/messages/{b}/reject", {
                "idem": form["idem"], "reason_code": "3",
                "reason": "Trùng với thông báo đã nhận trước."})
            assert st == 303 and h["Location"].endswith("?done=rejected")
            # no form token: refused
            assert (await officer.post(f"/app/messages/{b}/reject", {
                "idem": "k" * 22, "reason_code": "3", "reason": "x"}, csrf=False))[0] == 403
            # forward: H2 may not go to a third office; the refusal names the code in both
            st, html, _ = await officer.get(f"/app/messages/{h2}")
            assert "H2 – Không chuyển cho bên thứ ba" in html.split('id="handling"')[1]
            form = _form(html, "forward-form")
            st, html, _ = await officer.post(f"/app/messages/{h2}/forward", [
                ("idem", form["idem"]), ("to", LAOCAI_BORDER_GUARD)])
            assert st == 403
            refusal = html.split('id="forward-refused"')[1].split("</div>")[0]
            assert "Không được chuyển tiếp" in refusal and "H2 – Không chuyển cho bên thứ ba" in refusal
            assert "不得转发" in refusal and "H2 – 不得向第三方转交" in refusal
            # an H0 message may: a new message from Hekou to the Border Guard post
            st, html, _ = await officer.get(f"/app/messages/{a}")
            form = _form(html, "forward-form")
            st, _, h = await officer.post(f"/app/messages/{a}/forward", [
                ("idem", form["idem"]), ("to", LAOCAI_BORDER_GUARD)])
            assert st == 303 and h["Location"].endswith("?done=forwarded")
            # the sender sees the states
            async with aiohttp.ClientSession() as http:
                lc = pair.officer(http, LAOCAI)

                async def answered() -> bool:
                    return len(await lc.inbox()) == 2
                await wait_for(answered, what="the acknowledgement and the rejection")
                types = sorted(m["type"] for m in await lc.inbox())
                assert types == ["acknowledgement", "rejection"]
            st, html, _ = await sender.get(f"/app/cases/{a}")
            assert 'id="state">已确认收悉<' in html
            st, html, _ = await sender.get(f"/app/cases/{b}")
            assert 'id="state">已拒绝<' in html
            rejection = next(m for m in await lcg.store.call(lcg.store.sync.list_inbox, 10)
                         if m["message_type"] == 9)["message_id"].hex()
            st, html, _ = await sender.get(f"/app/messages/{rejection}")
            assert "Trùng với thông báo đã nhận trước." in html and "重复" in html
        finally:
            await officer.close()
            await sender.close()
        leaves = await _leaves(hk)
        assert [(c, k) for c, k, _ in _refused(leaves)] == [
            ("CSRF_REJECTED", ""), ("HANDLING_RESTRICTED", "forward")]
        sent = [x for x in leaves if x["type"] == "message.created"]
        assert len(sent) == 3  # acknowledgement, rejection, forward: once each
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_border_guard_alerts_count_and_link_only_its_types(
        backend: str, tmp_path: Path) -> None:
    import asyncio

    from webtools import EventStream

    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        bg = await _signed_in(pair, HEKOU, "bg.hekou", "border_guard")
        try:
            r = await bg.s.get(bg.base + "/app/alerts")
            stream = EventStream(r)
            assert await stream.next() == ("unread", {"unread": 0, "urgent_unread": 0})
            urgent_plan = _plan()
            urgent_plan["body"]["context"]["priority"] = "PRIORITY_URGENT"
            async with aiohttp.ClientSession() as http:
                lc = pair.officer(http, LAOCAI)
                await lc.send([HEKOU], _notice("BG-ALERT-1"))
                urgent_notice = _notice("BG-ALERT-2")
                urgent_notice["body"]["context"]["priority"] = "PRIORITY_URGENT"
                await lc.send([HEKOU], urgent_notice)
                mid = await lc.send([HEKOU], urgent_plan)
            # the two case notices are not the Border Guard's: the first event is the plan's
            name, data = await asyncio.wait_for(stream.next(), 20)
            assert name == "urgent" and data["href"] == f"/app/messages/{mid}"
            assert data["unread"] == 1 and data["urgent_unread"] == 1
            r.close()
        finally:
            await bg.close()
    finally:
        await pair.close()
