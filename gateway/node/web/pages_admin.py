"""The admin's page: users (role, disabled or not, second factor enrolled, live web sessions;
add, disable, enable, reset the password or the second factor, end sessions), the peers'
health, and the trust directory (serial, expiry, each office's keys, revocations). Never
message content.

Adding, disabling and enabling go through ``gateway.node.home`` (the same as ``blo-gateway
users add|disable``: an audit leaf; a disabled token stops working at once). A new user gets
a random first password and a second factor; a reset makes a new one of either (every
session of the user ends; ``WebStore.set_password``/``set_totp``, each an audit leaf). The
password, the TOTP secret, its ``otpauth://`` URI and its QR code are shown once, on the
answer to that POST (never stored in clear, never in a URL or log). Ending the sessions is
``WebStore.end_sessions`` (an audit leaf). An admin does not lock itself out here (the CLI
can). Every action is a POST with the session's CSRF token (``app``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.node import webauth as auth
from gateway.node.home import add_user, list_users, set_user_disabled
from gateway.node.web.context import LANGS, PREFIX, WebContext
from gateway.protocol.errors import Conflict, Malformed, NotFound
from gateway.protocol.identity import fingerprint
from gateway.views.qr import qr_svg

__all__ = ["ROLES", "add_routes"]

ROLES = ("admin",)
ACTIONS = ("disable", "enable", "signout", "reset_password", "reset_totp")


def _user_roles() -> tuple[str, ...]:
    """The roles a user may have (the officer API's; imported here: it mounts this app)."""
    from gateway.node.officer_api import ROLES as USER_ROLES

    return USER_ROLES


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def page(request: web.Request) -> web.Response:
        await cx.need_role(request, "admin", *ROLES)
        users = await asyncio.to_thread(list_users, gw.config.home)
        web_users = await gw.store.call(cx.ws.web_users)
        health = await gw.health()
        d = gw.directory
        offices = sorted(d.offices.values(), key=lambda o: o.office_id)
        keys = {o.office_id: [(k.key_id, k.algorithm, fingerprint(k.public_key),
                               k.not_before_ms, k.not_after_ms) for k in o.keys]
                for o in offices}
        return cx.page(request, "admin.html", users=users, web_users=web_users,
                       peers=health["peers"], directory=health["directory"],
                       offices=offices, keys=keys, revoked=sorted(d.revoked.items()),
                       done=request.query.get("done", ""), roles=_user_roles(), langs=LANGS)

    async def credentials(request: web.Request, name: str, *, password: bool,
                          totp: bool, added: bool = False) -> web.Response:
        """Set a new password and/or second factor of ``name``; the page shows them once."""
        now = gw.clock.now_ms()
        shown: dict[str, Any] = {"user": name, "added": added}
        if password:
            new = auth.new_password()
            hashed = await asyncio.to_thread(auth.hash_password, new)
            await gw.store.call(cx.ws.set_password, name, hashed, now)
            shown["password"] = new
        if totp:
            secret = auth.new_totp_secret()
            await gw.store.call(cx.ws.set_totp, name, auth.seal_totp(cx.key, name, secret), now)
            uri = auth.totp_uri(secret, name, gw.office_id)
            shown.update(secret=secret, uri=uri, qr=qr_svg(uri))
        return cx.page(request, "admin_secret.html", **shown)

    async def add(request: web.Request) -> web.Response:
        await cx.need_role(request, "admin_action", *ROLES)
        form = await request.post()
        name = str(form.get("user", "")).strip().lower()
        role, lang = str(form.get("role", "")), str(form.get("lang", ""))
        if auth.USER_NAME.fullmatch(name) is None:
            raise Malformed("a user name is 1 to 64 lower-case letters, digits, '.', '_', '-'")
        if role not in _user_roles() or lang not in LANGS:
            raise Malformed(f"role must be one of {', '.join(_user_roles())}; language vi or zh")
        if name in {u["name"] for u in await asyncio.to_thread(list_users, gw.config.home)}:
            raise Conflict(f"a user {name} exists already")
        await asyncio.to_thread(add_user, gw.config.home, name, role)
        resp = await credentials(request, name, password=True, totp=True, added=True)
        await gw.store.call(cx.ws.set_lang, name, lang, gw.clock.now_ms())
        return resp

    async def act(request: web.Request) -> web.StreamResponse:
        sess = await cx.need_role(request, "admin_action", *ROLES)
        form = await request.post()
        name, action = str(form.get("user", "")), str(form.get("action", ""))
        if action not in ACTIONS:
            raise Malformed(f"action must be one of {', '.join(ACTIONS)}")
        known = {u["name"] for u in await asyncio.to_thread(list_users, gw.config.home)}
        if name not in known:
            raise NotFound("no such user")
        if name == sess.user and action != "enable":
            raise Conflict("an administrator does not lock itself out here; use the CLI")
        if action == "signout":
            await gw.store.call(cx.ws.end_sessions, name, gw.clock.now_ms())
        elif action.startswith("reset_"):
            return await credentials(request, name, password=action == "reset_password",
                                     totp=action == "reset_totp")
        else:
            await asyncio.to_thread(set_user_disabled, gw.config.home, name,
                                    action == "disable")
        raise web.HTTPSeeOther(PREFIX + "admin?done=" + action)

    app.router.add_get("/admin", page)
    app.router.add_post("/admin/users", act)
    app.router.add_post("/admin/users/add", add)
