"""The admin's page: users (role, disabled or not, second factor enrolled, live web sessions;
disable, enable, end sessions), the peers' health, and the trust directory (serial, expiry,
each office's keys, revocations). Never message content.

Disabling and enabling go through ``gateway.node.home`` (the same as ``blo-gateway users
disable``: the token stops working at once, an audit leaf); ending the sessions is
``WebStore.end_sessions`` (an audit leaf). An admin does not disable itself here.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.node.home import list_users, set_user_disabled
from gateway.node.web.context import PREFIX, WebContext
from gateway.protocol.errors import Conflict, Malformed, NotFound
from gateway.protocol.identity import fingerprint

__all__ = ["ROLES", "add_routes"]

ROLES = ("admin",)
ACTIONS = ("disable", "enable", "signout")


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
                       done=request.query.get("done", ""))

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
        else:
            await asyncio.to_thread(set_user_disabled, gw.config.home, name,
                                    action == "disable")
        raise web.HTTPSeeOther(PREFIX + "admin?done=" + action)

    app.router.add_get("/admin", page)
    app.router.add_post("/admin/users", act)
