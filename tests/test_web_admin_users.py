"""The admin's user actions in the web app over real HTTP, as a browser sends them: add a
user (role, language) who then signs in with what the page showed once; reset the password
and the second factor (the old ones stop working, the user's sessions end); each action needs
the CSRF token and the admin role and is an audit leaf."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from harness import BACKENDS, Pair
from webtools import Browser, code, web_user

from gateway.node.gateway import Gateway
from gateway.protocol.scenario import HEKOU


async def _leaves(gw: Gateway) -> list[dict[str, Any]]:
    bundle = await gw.store.call(gw.store.sync.export_audit)
    return [json.loads(bytes(x)) for x in bundle["leaves"]]


def shown(html: str, name: str) -> str:
    m = re.search(rf'id="{name}"[^>]*>([^<]+)<', html)
    assert m, f"{name} is not on the page"
    return m.group(1).replace("&amp;", "&")


async def sign_in(base: str, user: str, password: str, secret: str,
                  step: int = 0) -> tuple[int, Browser]:
    b = Browser(base)
    await b.get("/app/signin")
    st, _, _ = await b.post("/app/signin", {"user": user, "password": password,
                                            "code": code(secret, step)})
    return st, b


@pytest.mark.parametrize("backend", BACKENDS)
async def test_admin_adds_a_user_who_signs_in_and_resets_password_and_second_factor(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    web_user(pair, HEKOU, "root", "admin", totp=False)
    officer_secret = web_user(pair, HEKOU, "officer", exists=True)
    try:
        hk = await pair.start(HEKOU)
        base = pair.api(HEKOU)
        admin = Browser(base)
        assert (await admin.sign_in("root", None))[0] == 303
        try:
            st, html, _ = await admin.get("/app/admin")
            assert st == 200 and 'id="add-user"' in html
            # without the form token nothing is added
            st, _, _ = await admin.post("/app/admin/users/add",
                                        {"user": "mai", "role": "officer", "lang": "zh"},
                                        csrf=False)
            assert st == 403
            st, html, h = await admin.post("/app/admin/users/add",
                                           {"user": "mai", "role": "officer", "lang": "zh"})
            assert st == 200 and h["Cache-Control"] == "no-store"
            password, secret = shown(html, "new-password"), shown(html, "totp-secret")
            uri = shown(html, "totp-uri")
            assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
            assert '<svg' in html.split('id="totp-qr"')[1]
            # shown once: not on the admin page, not in a URL
            st, page, _ = await admin.get("/app/admin")
            assert password not in page and secret not in page and 'id="user-mai"' in page
            assert "Cán bộ liên lạc" in page.split('id="user-mai"')[1].split("</tr>")[0]
            # the new user signs in with them, and sees the app in the language chosen
            st, mai = await sign_in(base, "mai", password, secret)
            assert st == 303
            st, dash, _ = await mai.get("/app/")
            assert st == 200 and "工作台" in dash
            # refused: a name taken, an unknown role, a bad name, a non-admin
            assert (await admin.post("/app/admin/users/add", {
                "user": "mai", "role": "officer", "lang": "vi"}))[0] == 409
            assert (await admin.post("/app/admin/users/add", {
                "user": "lan", "role": "emperor", "lang": "vi"}))[0] == 400
            assert (await admin.post("/app/admin/users/add", {
                "user": "Lan Anh", "role": "officer", "lang": "vi"}))[0] == 400
            st, officer = await sign_in(base, "officer", "correct horse battery staple",
                                        officer_secret or "")
            assert st == 303
            await officer.get("/app/")
            assert (await officer.post("/app/admin/users/add", {
                "user": "lan", "role": "officer", "lang": "vi"}))[0] == 403
            await officer.close()
            # reset the password: mai's session ends, the old password fails, the new works
            await admin.get("/app/admin")
            st, html, _ = await admin.post("/app/admin/users", {"user": "mai",
                                                                "action": "reset_password"})
            assert st == 200 and 'id="totp-secret"' not in html
            new_password = shown(html, "new-password")
            assert new_password != password
            assert (await mai.get("/app/"))[0] == 303
            await mai.close()
            st, mai = await sign_in(base, "mai", password, secret, step=1)
            assert st == 401
            await mai.close()
            st, mai = await sign_in(base, "mai", new_password, secret, step=1)
            assert st == 303
            # reset the second factor: the old secret's codes fail, the new secret's work
            await admin.get("/app/admin")
            st, html, _ = await admin.post("/app/admin/users", {"user": "mai",
                                                                "action": "reset_totp"})
            assert st == 200 and 'id="new-password"' not in html
            new_secret = shown(html, "totp-secret")
            assert new_secret != secret and '<svg' in html
            assert (await mai.get("/app/"))[0] == 303
            await mai.close()
            st, mai = await sign_in(base, "mai", new_password, secret, step=2)
            assert st == 401
            await mai.close()
            st, mai = await sign_in(base, "mai", new_password, new_secret)
            assert st == 303
            await mai.close()
        finally:
            await admin.close()
        leaves = await _leaves(hk)
        assert [x["type"] for x in leaves if x.get("user") == "mai" and x["type"] in (
            "user.added", "web.password_set", "web.totp_enrolled")] == [
            "user.added", "web.password_set", "web.totp_enrolled", "web.password_set",
            "web.totp_enrolled"]
        assert [(x["code"], x.get("kind")) for x in leaves if x["type"] == "web.refused"
                and x.get("user") in ("root", "officer")] == [
            ("CSRF_REJECTED", None), ("FORBIDDEN", "admin_action")]
        dump = json.dumps(leaves)
        assert password not in dump and secret not in dump and new_secret not in dump
    finally:
        await pair.close()
