"""A user changes their own password on the account page, over real HTTP as a browser posts
it: a wrong current password, two different new ones, the same one again and one too short
are each refused with the reason in the user's language and nothing changes; a wrong current
password counts like a failed sign-in; the change ends the user's sessions (this one too), the old
password stops working and the new one signs in; each step is an audit leaf."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import BACKENDS, Pair
from webtools import PASSWORD, Browser, web_user

from gateway.protocol.scenario import HEKOU, LAOCAI

NEW = "Lào Cai — mật khẩu mới 2026"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_user_changes_their_own_password(backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    secret = web_user(pair, LAOCAI, "officer", exists=True)
    web_user(pair, HEKOU, "auditor", "auditor", exists=True, totp=False)
    gw = await pair.start(LAOCAI)
    await pair.start(HEKOU)
    b, aud = Browser(pair.api(LAOCAI)), Browser(pair.api(HEKOU))
    try:
        assert (await b.sign_in("officer", secret))[0] == 303
        status, html, _ = await b.get("/app/account")
        assert status == 200 and 'id="change-password"' in html and "Đổi mật khẩu" in html

        async def change(current: str, new: str, again: str | None = None,
                         csrf: bool = True) -> tuple[int, str]:
            st, text, headers = await b.post("/app/account/password", {
                "current": current, "new": new, "again": new if again is None else again},
                csrf=csrf)
            return st, headers.get("Location", "") if st == 303 else text

        assert (await change("not my password", NEW))[0] == 403
        st, text = await change(PASSWORD, NEW, NEW + "x")
        assert st == 400 and "không khớp" in text
        st, text = await change(PASSWORD, PASSWORD)
        assert st == 400 and "phải khác" in text
        st, text = await change(PASSWORD, "short")
        assert st == 400 and "từ 12 đến 256" in text
        assert (await change(PASSWORD, NEW, csrf=False))[0] == 403  # no form token
        assert (await b.get("/app/"))[0] == 200  # nothing changed so far
        st, where = await change(PASSWORD, NEW)
        assert (st, where) == (303, "/app/signin?changed=1&lang=vi")
        assert (await b.get("/app/"))[0] == 303  # every session of the user ended
        status, html, _ = await b.get(where)
        assert 'id="password-changed"' in html
        assert (await b.sign_in("officer", secret, step=1))[0] == 401  # the old password
        assert (await b.sign_in("officer", secret, step=1, password=NEW))[0] == 303
        assert "Tài khoản của tôi" in (await b.get("/app/"))[1]  # the account link's title

        # an auditor (no second factor, Chinese) may change theirs too; refusals in zh
        assert (await aud.sign_in("auditor", None))[0] == 303
        await aud.get("/app/")
        await aud.post("/app/lang", {"lang": "zh", "next": "/app/"})
        await aud.get("/app/account")
        st, text, _ = await aud.post("/app/account/password",
                                     {"current": PASSWORD, "new": NEW, "again": "x"})
        assert st == 400 and "不一致" in text

        bundle = await gw.store.call(gw.store.sync.export_audit)
        leaves = [json.loads(bytes(x)) for x in bundle["leaves"]]
        assert [x.get("kind") for x in leaves if x["type"] == "web.refused"
                and x.get("user") == "officer"] == [
                    "password_change", None, "password"]  # wrong current, no token, old one
        assert sum(x["type"] == "web.password_set" for x in leaves) == 2  # web_user, then ours
        assert NEW not in json.dumps(leaves, ensure_ascii=False)
    finally:
        for x in (b, aud):
            await x.close()
        await pair.close()
