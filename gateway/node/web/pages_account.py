"""The user's own account page: every signed-in user (any role) changes their own password.

The form asks for the current password and the new one twice. The current password is
checked like a sign-in (argon2id, ``webauth.verify_password``); a wrong one is refused with
the same growing block as failed sign-ins (``WebStore.refuse`` counts it against the user)
and an audit leaf ``web.refused`` (code ``SIGN_IN_FAILED``, kind ``password_change``). The
new password must be 12 to 256 characters without leading or trailing white space
(``webauth.check_password``), differ from the
current one and match its repetition; a refusal shows the reason beside the form in the
user's language. A change is ``WebStore.set_password`` (an audit leaf ``web.password_set``):
every session of the user ends, this one too, and the browser goes to the sign-in page,
which says that the password was changed. The password never reaches a log or a URL.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.node import webauth as auth
from gateway.node.web.context import COOKIE, PREFIX, SESSION, WebContext, t
from gateway.protocol.errors import GatewayError, SignInFailed

__all__ = ["add_routes"]


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def page(request: web.Request) -> web.Response:
        return cx.page(request, "account.html", problem="")

    async def change(request: web.Request) -> web.StreamResponse:
        sess = request[SESSION]
        form = await request.post()  # the CSRF token was checked by the session middleware
        current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))
        text = t(sess.lang)
        now = gw.clock.now_ms()

        def refused(key: str, status: int = 400) -> web.Response:
            return cx.page(request, "account.html", status=status, problem=text(key))

        cred = await gw.store.call(cx.ws.credentials, sess.user)
        if cred is not None and cred["blocked_until_ms"] > now:
            return refused("web.too_many", 429)
        ok = await asyncio.to_thread(auth.verify_password,
                                     cred["password_hash"] if cred else None, current)
        if not ok or cred is None:
            block = auth.block_ms(cred["failures"] + 1) if cred is not None else 0
            await gw.store.call(cx.ws.refuse, {"t": now, "code": SignInFailed.code,
                                               "kind": "password_change", "user": sess.user},
                                failed_user=sess.user if cred is not None else None,
                                block_ms=block)
            return refused("web.password_wrong", 403)
        if new != again:
            return refused("web.password_mismatch")
        if new == current:
            return refused("web.password_unchanged")
        try:
            auth.check_password(new)
        except GatewayError:
            return refused("web.password_rules")
        hashed = await asyncio.to_thread(auth.hash_password, new)
        await gw.store.call(cx.ws.set_password, sess.user, hashed, now)
        resp = web.HTTPSeeOther(PREFIX + f"signin?changed=1&lang={sess.lang}")
        resp.del_cookie(COOKIE, path=PREFIX)
        raise resp

    app.router.add_get("/account", page)
    app.router.add_post("/account/password", change)
