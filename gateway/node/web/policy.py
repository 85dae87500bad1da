"""The roles' limits on the web app's compose form (``gateway.node.roles``), checked before
the page runs: a role that sends nothing gets no compose form, and a role limited to some
message types (the Border Guard: repatriation notices and handover records) composes only
those. Every refusal is a 403 and an audit leaf (``web.refused``, kind ``compose``).

The other pages check their role themselves (``WebContext.need_role``); this one stays a
middleware so that the compose module itself need not know the roles' table.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.node import roles
from gateway.node.web.context import PREFIX, SESSION, Handler, WebContext
from gateway.protocol.errors import Forbidden
from gateway.protocol.messages import MessageType

__all__ = ["role_middleware"]


def role_middleware(cx: WebContext) -> Middleware:
    """The middleware (put it after the session middleware: it needs the session)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        sess = request.get(SESSION)
        if sess is None or request.path != PREFIX + "compose":
            return await handler(request)
        if request.method == "POST":
            slug = (await request.post()).get("type", "")  # read (and cached) before: CSRF
        else:
            slug = request.query.get("type", "")
        allowed = roles.may(sess.role, "compose")
        if allowed and isinstance(slug, str) and slug:
            allowed = roles.may_send(sess.role, MessageType.from_slug(slug))
        if not allowed:
            await cx.refuse(request, Forbidden.code, kind="compose")
            raise Forbidden(f"role {sess.role} does not compose this")
        return await handler(request)

    return middleware
