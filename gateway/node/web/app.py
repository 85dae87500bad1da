"""The web app's Application: middleware (headers, sessions, CSRF), sign-in and sign-out, the
language switch and the static files; the pages come from the ``pages_*`` modules.

See ``gateway.node.web`` for what every page guarantees.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from importlib import resources
from typing import Any

from aiohttp import web

from gateway.node import webauth as auth
from gateway.node.ports import WebAppHost
from gateway.node.web import (
    pages_account,
    pages_actions,
    pages_admin,
    pages_alerts,
    pages_audit,
    pages_cases,
    pages_compose,
    pages_handover,
    pages_messages,
    pages_stats,
)
from gateway.node.web.context import (
    COOKIE,
    CSP,
    LANGS,
    PRE_COOKIE,
    PREFIX,
    SESSION,
    SESSION_ID,
    Handler,
    WebContext,
    lang_of,
    log,
    pre_lang,
    set_cookie,
    t,
)
from gateway.node.web.policy import role_middleware
from gateway.protocol.errors import (
    CsrfRejected,
    GatewayError,
    Malformed,
    NotFound,
    SecondFactorMissing,
    SessionExpired,
    SignInFailed,
)

__all__ = ["build_web_app"]

_NEXT = re.compile(r"/app/[a-z0-9/_-]{0,80}")
_STATIC = {"app.css": "text/css", "app.js": "text/javascript", "print.css": "text/css"}


def build_web_app(gw: WebAppHost) -> web.Application:
    """The web app for ``gw`` (a sub-application: ``app.add_subapp(PREFIX, ...)``)."""
    cx = WebContext(gw)
    ws, page, refuse = cx.ws, cx.page, cx.refuse
    static = {n: resources.files("gateway.views").joinpath("static", n).read_bytes()
              for n in _STATIC}

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def headers_middleware(request: web.Request,
                                 handler: Handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            if e.status < 400:
                resp = e
            else:
                resp = page(request, "error.html", status=e.status, code="HTTP_ERROR",
                            message=t(lang_of(request))("web.not_found"))
        except GatewayError as e:
            lang = lang_of(request)
            text = {"CSRF_REJECTED": "web.csrf_rejected", "FORBIDDEN": "web.forbidden",
                    "NOT_FOUND": "web.not_found", "SESSION_EXPIRED": "web.session_expired",
                    "INVALID_TRANSITION": "web.invalid_transition",
                    "CONFLICT": "web.invalid_transition",
                    "IDEMPOTENCY_KEY_REUSED": "web.form_reused",
                    "BAD_IDEMPOTENCY_KEY": "web.form_reused",
                    }.get(e.code)
            resp = page(request, "error.html", status=e.http_status, code=e.code,
                        message=t(lang)(text) if text else e.message)
        if resp.prepared:  # a stream (the alerts): its headers went out when it began
            return resp
        h = resp.headers
        h["Content-Security-Policy"] = CSP
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        h["Cache-Control"] = "no-store"
        if isinstance(resp, web.HTTPException):
            raise resp
        return resp

    @web.middleware
    async def session_middleware(request: web.Request,
                                 handler: Handler) -> web.StreamResponse:
        open_paths = (PREFIX + "signin", PREFIX + "static/")
        if request.path.startswith(open_paths):
            return await handler(request)
        sid = request.cookies.get(COOKIE, "")
        if not sid:
            if request.method == "GET":
                raise web.HTTPSeeOther(PREFIX + "signin")
            await refuse(request, SessionExpired.code)
            raise SessionExpired("sign in first")
        if len(sid) > 64 or not sid.isascii():
            raise SessionExpired("sign in again")
        request[SESSION_ID] = sid
        got = await gw.store.call(ws.session, auth.session_hash(sid), gw.clock.now_ms(),
                                  idle_ms=cx.idle_ms, lifetime_ms=cx.lifetime_ms)
        if isinstance(got, str):
            await refuse(request, SessionExpired.code, kind=got)
            if request.method == "GET":
                resp = web.HTTPSeeOther(PREFIX + "signin?ended=1")
                resp.del_cookie(COOKIE, path=PREFIX)
                raise resp
            raise SessionExpired(f"the session is no longer valid ({got}); sign in again")
        request[SESSION] = got
        if request.method not in ("GET", "HEAD"):
            if request.path == pages_audit.UPLOAD_PATH:
                # a bundle upload is streamed with its own size limit; the handler checks
                # the token, which the form sends as its first part
                return await handler(request)
            form = await request.post()
            await cx.check_csrf(request, form.get("csrf"))
        return await handler(request)

    # ------------------------------------------------------------------ sign-in

    async def signin_form(request: web.Request) -> web.Response:
        pre = request.cookies.get(PRE_COOKIE, "")
        if not (20 <= len(pre) <= 64 and pre.isascii()):
            pre = auth.new_session_id()
        resp = page(request, "signin.html", pre=pre, failed="",
                    ended=request.query.get("ended") == "1",
                    changed=request.query.get("changed") == "1")
        set_cookie(request, resp, PRE_COOKIE, pre)
        return resp

    async def signin(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        pre = request.cookies.get(PRE_COOKIE, "")
        given = form.get("csrf")
        if (not pre or not isinstance(given, str)
                or not hmac.compare_digest(given.encode(), pre.encode())):
            await refuse(request, CsrfRejected.code)
            raise CsrfRejected("the sign-in form token is missing or wrong")
        name, password, code = (str(form.get(k, "")) for k in ("user", "password", "code"))
        name = name.strip().lower()
        now = gw.clock.now_ms()
        valid_name = auth.USER_NAME.fullmatch(name) is not None
        cred = await gw.store.call(ws.credentials, name) if valid_name else None
        lang = pre_lang(request)

        async def failed(why: str, *, count: bool = True, retry_s: int = 0) -> web.Response:
            fields: dict[str, Any] = {"kind": why}
            if cred is not None:
                fields["user"] = name
            block = auth.block_ms(cred["failures"] + 1) if cred is not None and count else 0
            await gw.store.call(ws.refuse, {"t": now, "code": SignInFailed.code, **fields},
                                failed_user=name if cred is not None and count else None,
                                block_ms=block)
            log.info("web_signin_refused", reason=why)
            msg = t(lang)("web.signin_failed")
            if retry_s:
                msg = f"{t(lang)('web.too_many')}: {retry_s}"
            return page(request, "signin.html", status=401 if not retry_s else 429,
                        pre=pre, failed=msg, ended=False)

        if cred is not None and cred["blocked_until_ms"] > now:
            return await failed("blocked", count=False,
                                retry_s=-(-(cred["blocked_until_ms"] - now) // 1000))
        ok = await asyncio.to_thread(auth.verify_password,
                                     cred["password_hash"] if cred else None, password)
        if not ok:
            return await failed("password")
        assert cred is not None
        if cred["disabled_at_ms"] is not None:
            return await failed("disabled", count=False)
        step = now // 30_000  # without an enrolled second factor: one sign-in per step
        if cred["totp_sealed"] is not None:
            secret = auth.open_totp(cx.key, name, cred["totp_sealed"])
            found = auth.totp_step(secret, code, now)
            if found is None:
                return await failed("second_factor")
            step = found
        elif cred["role"] in auth.CONTENT_ROLES:
            await gw.store.call(ws.refuse, {"t": now, "code": SecondFactorMissing.code,
                                            "user": name})
            return page(request, "signin.html", status=403, pre=pre, ended=False,
                        failed=t(lang)("web.second_factor_missing"))
        sid = auth.new_session_id()
        if not await gw.store.call(ws.sign_in, name, auth.session_hash(sid), step, now):
            return await failed("code_reused")
        log.info("web_signin", user_id=name)
        resp = web.HTTPSeeOther(PREFIX)
        set_cookie(request, resp, COOKIE, sid)
        resp.del_cookie(PRE_COOKIE, path=PREFIX)
        raise resp

    async def signout(request: web.Request) -> web.StreamResponse:
        sess = request[SESSION]
        await gw.store.call(ws.sign_out, auth.session_hash(request[SESSION_ID]), sess.user,
                            gw.clock.now_ms())
        resp = web.HTTPSeeOther(PREFIX + "signin")
        resp.del_cookie(COOKIE, path=PREFIX)
        raise resp

    async def set_lang(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        lang = form.get("lang")
        if lang not in LANGS:
            raise Malformed("lang must be vi or zh")
        await gw.store.call(ws.set_lang, request[SESSION].user, str(lang), gw.clock.now_ms())
        nxt = str(form.get("next", PREFIX))
        raise web.HTTPSeeOther(nxt if _NEXT.fullmatch(nxt) else PREFIX)

    async def static_file(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in static:
            raise NotFound("no such file")
        return web.Response(body=static[name], content_type=_STATIC[name],
                            headers={"Cache-Control": "no-store"})

    app = web.Application(middlewares=[headers_middleware, session_middleware,
                                       role_middleware(cx)])
    app.router.add_get("/signin", signin_form)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_post("/lang", set_lang)
    app.router.add_get("/static/{name}", static_file)
    for module in (pages_messages, pages_actions, pages_cases, pages_handover, pages_compose,
                   pages_alerts, pages_stats, pages_audit, pages_admin, pages_account):
        module.add_routes(app, cx)
    return app

