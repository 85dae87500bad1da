"""The web app's routes, mounted on the officer listener under ``/app/``.

Server-rendered pages (Jinja2, autoescape on); the small script in ``static/`` only
enhances what already works without it. Every page:

* needs a live server-side session (``gateway.store.web``; idle timeout ``IDLE_MS``,
  absolute lifetime ``LIFETIME_MS``, revocable), found by the ``blo_session`` cookie
  (``HttpOnly``, ``SameSite=Strict``, ``Secure`` when served over TLS, path ``/app/``);
* answers with a strict Content-Security-Policy (no inline script or style, nothing from
  elsewhere), frame denial, ``Cache-Control: no-store``, no referrer;
* takes a POST only with the session's CSRF token (the sign-in form: with the token of a
  pre-session cookie), and records every refusal in the audit log;
* speaks the user's language (vi or zh, switchable on every page; every string from the
  glossary, schema labels from the descriptors) and shows times in the office's zone,
  the zone named.

Roles: an ``officer`` composes, sends and opens messages; ``auditor`` and ``admin`` see
lists, cases and the dashboard (metadata) and get 403 — logged — on content.
URLs carry ids and codes only, never personal data (a filter by case reference is a
query parameter of a GET; case references are codes, not names).
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from google.protobuf.descriptor import Descriptor
from multidict import MultiDictProxy

from gateway.node import webauth as auth
from gateway.node.logs import get_logger
from gateway.node.ports import WebAppHost
from gateway.protocol import envelope
from gateway.protocol.errors import (
    CsrfRejected,
    Forbidden,
    GatewayError,
    Malformed,
    NotFound,
    SecondFactorMissing,
    SessionExpired,
    SignInFailed,
)
from gateway.protocol.glossary import term
from gateway.protocol.localtime import local_time, party_zones
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.protocol.workflow import WAITING
from gateway.store.web import ListFilter, SessionInfo, WebStore
from gateway.views import forms
from gateway.views.render import header_rows, label_of, rows_for

__all__ = ["IDLE_MS", "LIFETIME_MS", "PREFIX", "build_web_app"]

log = get_logger("webapp")
PREFIX = "/app/"
IDLE_MS = 30 * 60_000
LIFETIME_MS = 12 * 3600_000
PAGE = 50
COOKIE = "blo_session"
PRE_COOKIE = "blo_pre"
LANGS = ("vi", "zh")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_NEXT = re.compile(r"/app/[a-z0-9/_-]{0,80}")
_CASE_REF = re.compile(r"[A-Za-z0-9._/-]{1,64}")
_STATIC = {"app.css": "text/css", "app.js": "text/javascript"}
SESSION: web.RequestKey[SessionInfo] = web.RequestKey("web_session", SessionInfo)
SESSION_ID: web.RequestKey[str] = web.RequestKey("web_session_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("gateway.views", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)


def _t(lang: str) -> Callable[[str], str]:
    return lambda key: term(key).text(lang)


def build_web_app(gw: WebAppHost) -> web.Application:
    """The web app for ``gw`` (a sub-application: ``app.add_subapp(PREFIX, ...)``)."""
    env = _env()
    ws = WebStore(gw.store.sync)
    key = auth.web_key(gw.config.home)
    static = {n: resources.files("gateway.views").joinpath("static", n).read_bytes()
              for n in _STATIC}

    def names() -> dict[str, tuple[str, str]]:
        return {o.office_id: (o.name_vi, o.name_zh) for o in gw.directory.offices.values()}

    def office_name(oid: str, lang: str) -> str:
        vi, zh = names().get(oid, (oid, oid))
        return vi if lang == "vi" else zh

    def when(ms: int | None) -> str:
        return local_time(int(ms), gw.zone) if ms else ""

    def type_label(mt: int, lang: str) -> str:
        desc: Any = pb.Payload.DESCRIPTOR.fields_by_name[MessageType(mt).slug]
        vi, zh = label_of(desc)
        return vi if lang == "vi" else zh

    def page(request: web.Request, name: str, status: int = 200,
             **ctx: Any) -> web.Response:
        sess = request.get(SESSION)
        lang = sess.lang if sess else _pre_lang(request)
        sid = request.get(SESSION_ID)
        html = env.get_template(name).render(
            t=_t(lang), lang=lang, other="zh" if lang == "vi" else "vi", session=sess,
            csrf=auth.csrf_token(sid) if sid else "", zone=gw.zone.key, when=when,
            office=gw.office_id, office_name=lambda o: office_name(o, lang),
            type_label=lambda mt: type_label(mt, lang), path=request.path,
            role_label=(_t(lang)(f"web.role.{sess.role}") if sess else ""), **ctx)
        return web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8")

    async def refuse(request: web.Request, code: str, **fields: Any) -> None:
        event: dict[str, Any] = {"t": gw.clock.now_ms(), "code": code, **fields}
        sess = request.get(SESSION)
        if sess is not None:
            event.setdefault("user", sess.user)
        if SESSION_ID in request:
            event["session"] = auth.session_hash(request[SESSION_ID]).hex()
        await gw.store.call(ws.refuse, event)
        log.info("web_refused", code=code, user_id=event.get("user"))

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
                            message=_t(_lang_of(request))("web.not_found"))
        except GatewayError as e:
            lang = _lang_of(request)
            text = {"CSRF_REJECTED": "web.csrf_rejected", "FORBIDDEN": "web.forbidden",
                    "NOT_FOUND": "web.not_found", "SESSION_EXPIRED": "web.session_expired",
                    }.get(e.code)
            resp = page(request, "error.html", status=e.http_status, code=e.code,
                        message=_t(lang)(text) if text else e.message)
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
                                  idle_ms=IDLE_MS, lifetime_ms=LIFETIME_MS)
        if isinstance(got, str):
            await refuse(request, SessionExpired.code, kind=got)
            if request.method == "GET":
                resp = web.HTTPSeeOther(PREFIX + "signin?ended=1")
                resp.del_cookie(COOKIE, path=PREFIX)
                raise resp
            raise SessionExpired(f"the session is no longer valid ({got}); sign in again")
        request[SESSION] = got
        if request.method not in ("GET", "HEAD"):
            form = await request.post()
            given = form.get("csrf")
            if not isinstance(given, str) or not hmac.compare_digest(
                    given.encode(), auth.csrf_token(sid).encode()):
                await refuse(request, CsrfRejected.code)
                raise CsrfRejected("the form token is missing or not this session's")
        return await handler(request)

    def need_content(request: web.Request) -> SessionInfo:
        sess = request[SESSION]
        if sess.role not in auth.CONTENT_ROLES:
            raise Forbidden(f"role {sess.role} never sees message content")
        return sess

    # ------------------------------------------------------------------ sign-in

    async def signin_form(request: web.Request) -> web.Response:
        pre = request.cookies.get(PRE_COOKIE, "")
        if not (20 <= len(pre) <= 64 and pre.isascii()):
            pre = auth.new_session_id()
        resp = page(request, "signin.html", pre=pre, failed="",
                    ended=request.query.get("ended") == "1")
        _set_cookie(request, resp, PRE_COOKIE, pre)
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
        lang = _pre_lang(request)

        async def failed(why: str, *, count: bool = True, retry_s: int = 0) -> web.Response:
            fields: dict[str, Any] = {"kind": why}
            if cred is not None:
                fields["user"] = name
            block = auth.block_ms(cred["failures"] + 1) if cred is not None and count else 0
            await gw.store.call(ws.refuse, {"t": now, "code": SignInFailed.code, **fields},
                                failed_user=name if cred is not None and count else None,
                                block_ms=block)
            log.info("web_signin_refused", reason=why)
            msg = _t(lang)("web.signin_failed")
            if retry_s:
                msg = f"{_t(lang)('web.too_many')}: {retry_s}"
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
            secret = auth.open_totp(key, name, cred["totp_sealed"])
            found = auth.totp_step(secret, code, now)
            if found is None:
                return await failed("second_factor")
            step = found
        elif cred["role"] in auth.CONTENT_ROLES:
            await gw.store.call(ws.refuse, {"t": now, "code": SecondFactorMissing.code,
                                            "user": name})
            return page(request, "signin.html", status=403, pre=pre, ended=False,
                        failed=_t(lang)("web.second_factor_missing"))
        sid = auth.new_session_id()
        if not await gw.store.call(ws.sign_in, name, auth.session_hash(sid), step, now):
            return await failed("code_reused")
        log.info("web_signin", user_id=name)
        resp = web.HTTPSeeOther(PREFIX)
        _set_cookie(request, resp, COOKIE, sid)
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

    # ------------------------------------------------------------------ pages

    async def dashboard(request: web.Request) -> web.Response:
        now = gw.clock.now_ms()
        cases = await gw.store.call(gw.store.sync.cases, limit=500)
        urgent, due = [], []
        for c in cases:
            waiting = c["state"] in WAITING[c["kind"]]
            if not waiting:
                continue
            c["overdue"] = c["deadline_ms"] < now
            if c["overdue"] or c["priority"] == 3:
                urgent.append(c)
            elif c["deadline_ms"] < now + 24 * 3600_000:
                due.append(c)
        urgent.sort(key=lambda c: (not c["overdue"], c["deadline_ms"]))
        due.sort(key=lambda c: c["deadline_ms"])
        new, n_new = await gw.store.call(ws.message_page, "in", ListFilter(unopened=True), 0, 10)
        health = await gw.health()
        return page(request, "dashboard.html", urgent=urgent, due=due, new=new, n_new=n_new,
                    peers=health["peers"], alerts=health["audit"].get("alerts", []),
                    warnings=health["warnings"], state_label=_state_label)

    async def message_list(request: web.Request) -> web.Response:
        direction = "in" if request.path.endswith("inbox") else "out"
        q = request.query
        f, page_no, problems = _filters(q, gw)
        rows, total = await gw.store.call(ws.message_page, direction, f, page_no * PAGE, PAGE)
        keep = {k: v for k, v in q.items() if k != "page" and v}
        base = request.path + "?" + urlencode(keep) + ("&" if keep else "")
        return page(request, "list.html", direction=direction, rows=rows, total=total,
                    page_no=page_no, pages=max(1, -(-total // PAGE)), base=base,
                    q=dict(q), problems=problems, types=list(MessageType),
                    sent_ok=q.get("ok") == "1", status_label=_status_label)

    async def message(request: web.Request) -> web.Response:
        mid_hex = request.match_info["id"]
        if not _HEX_ID.fullmatch(mid_hex):
            raise NotFound("a message id is 32 lower-case hex digits")
        mid = bytes.fromhex(mid_hex)
        sess = request[SESSION]
        if sess.role not in auth.CONTENT_ROLES:
            await refuse(request, Forbidden.code, message_id=mid_hex)
            raise Forbidden(f"role {sess.role} never sees message content")
        rows = await gw.store.call(gw.store.sync.inbox_envelope, mid)
        if len(rows) != 1:
            raise NotFound("no such message in the inbox")
        row = rows[0]
        env = envelope.verify_stored(row["raw"], gw.directory,
                                     received_at_ms=row["stored_at_ms"],
                                     max_size=gw.config.max_envelope_bytes)
        payload = envelope.open_envelope(env, gw.keyring)
        await gw.store.call(gw.store.sync.mark_opened, row["iid"], sess.user, gw.clock.now_ms(),
                            message_id=mid, sender=env.header.sender)
        log.info("message_opened", message_id=mid_hex, user_id=sess.user)
        zones = party_zones(gw.directory.offices, gw.office_id, gw.zone)
        both = request.query.get("view") == "both"
        return page(request, "message.html", mid=mid_hex, both=both,
                    header=header_rows(env.header, names(), zones),
                    body=list(rows_for(payload.body)), title=label_of(_desc(payload.body)),
                    sender=env.header.sender, case_root=payload.context.in_reply_to or mid_hex)

    async def case(request: web.Request) -> web.Response:
        root = request.match_info["id"]
        if not _HEX_ID.fullmatch(root):
            raise NotFound("a case id is 32 lower-case hex digits")
        item, events = await gw.store.call(ws.case_timeline, root)
        if item is None and not events:
            raise NotFound("no such case here")
        now = gw.clock.now_ms()
        return page(request, "case.html", item=item, events=events, now=now,
                    state_label=_state_label, waiting=bool(
                        item and item["state"] in WAITING[item["kind"]]))

    async def compose(request: web.Request) -> web.Response:
        sess = request[SESSION]
        if sess.role not in auth.CONTENT_ROLES:
            await refuse(request, Forbidden.code)
            raise Forbidden(f"role {sess.role} does not send messages")
        q = request.query
        slug = q.get("type", "")
        if not slug:
            return page(request, "choose.html", types=list(MessageType))
        mtype = MessageType.from_slug(slug)
        values: dict[str, list[str]] = {}
        to: list[str] = []
        reply = q.get("reply", "")
        if reply:
            values, to = await _reply_values(gw, reply)
        return compose_page(request, mtype, values, {}, to, "")

    def compose_page(request: web.Request, mtype: MessageType, values: dict[str, list[str]],
                     errors: dict[str, str], to: list[str], problem: str,
                     status: int = 200) -> web.Response:
        sess = request[SESSION]
        desc = _body_desc(mtype)
        nodes = forms.build(desc, values, errors, sess.lang, gw.zone.key)
        peers = sorted(gw.deliveries)
        return page(request, "compose.html", status=status, mtype=mtype, nodes=nodes,
                    peers=peers, to=to, problem=problem, errors=errors,
                    title=label_of(desc), to_error=errors.get("to", ""))

    async def compose_post(request: web.Request) -> web.StreamResponse:
        sess = need_content(request)
        form = await request.post()
        mtype = MessageType.from_slug(str(form.get("type", "")))
        values = _values(form)
        to = [t for t in values.pop("to", []) if t in gw.deliveries]
        for k in ("csrf", "type"):
            values.pop(k, None)
        action = _first(values.pop("_add", [])) or _first(values.pop("_remove", []))
        if action:
            _edit_items(values, action, add="_add" in form)
            return compose_page(request, mtype, values, {}, to, "")
        body = pb.__dict__[_body_desc(mtype).name]()
        errors = forms.parse(body, values, sess.lang)
        if not to:
            errors["to"] = term("web.required").text(sess.lang)
        if errors:
            return compose_page(request, mtype, values, errors, to,
                                term("web.fix_fields").text(sess.lang), status=400)
        try:
            await gw.submit(Payload(body), to, user=sess.user)
        except GatewayError as e:
            return compose_page(request, mtype, values, {}, to, f"{e.code}: {e.message}",
                                status=e.http_status)
        raise web.HTTPSeeOther(PREFIX + "sent?ok=1")

    async def static_file(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in static:
            raise NotFound("no such file")
        return web.Response(body=static[name], content_type=_STATIC[name],
                            headers={"Cache-Control": "no-store"})

    app = web.Application(middlewares=[headers_middleware, session_middleware])
    app.router.add_get("/", dashboard)
    app.router.add_get("/signin", signin_form)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_post("/lang", set_lang)
    app.router.add_get("/inbox", message_list)
    app.router.add_get("/sent", message_list)
    app.router.add_get("/messages/{id}", message)
    app.router.add_get("/cases/{id}", case)
    app.router.add_get("/compose", compose)
    app.router.add_post("/compose", compose_post)
    app.router.add_get("/static/{name}", static_file)
    return app


# ---------------------------------------------------------------------- helpers

def _lang_of(request: web.Request) -> str:
    sess = request.get(SESSION)
    return sess.lang if sess else _pre_lang(request)


def _pre_lang(request: web.Request) -> str:
    """Before sign-in: ``?lang=`` or the browser's preference (zh if it asks for Chinese)."""
    lang = request.query.get("lang", "")
    if lang in LANGS:
        return lang
    accept = request.headers.get("Accept-Language", "").lower()
    return "zh" if accept.startswith("zh") else "vi"


def _set_cookie(request: web.Request, resp: web.StreamResponse, name: str, value: str) -> None:
    resp.set_cookie(name, value, path=PREFIX, httponly=True, samesite="Strict",
                    secure=request.secure or None)


def _state_label(state: str, lang: str) -> str:
    try:
        return term(f"state.{state}").text(lang)
    except KeyError:
        return state


def _status_label(state: str, lang: str) -> str:
    try:
        return term(f"ui.status.{state}").text(lang)
    except KeyError:
        return state


def _first(items: list[str]) -> str:
    return items[0] if items else ""


def _values(form: MultiDictProxy[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in form.items():
        if isinstance(v, str) and len(k) <= 200:
            out.setdefault(k, []).append(v)
    return out


def _edit_items(values: dict[str, list[str]], action: str, *, add: bool) -> None:
    """Add an item to the repeated field ``action``, or remove item ``action``
    (``path.i``), moving the later items' values down: nothing typed is lost."""
    if add:
        n = values.get(action + "._n", ["0"])[0]
        count = int(n) if n.isdigit() else 0
        values[action + "._n"] = [str(min(count + 1, forms.MAX_ITEMS))]
        return
    path, _, index = action.rpartition(".")
    if not index.isdigit():
        return
    i = int(index)
    n = values.get(path + "._n", ["0"])[0]
    count = int(n) if n.isdigit() else 0
    moved: dict[str, list[str]] = {}
    for k in list(values):
        if not k.startswith(path + "."):
            continue
        rest = k[len(path) + 1:]
        head, dot, tail = rest.partition(".")
        if not head.isdigit():
            continue
        j = int(head)
        v = values.pop(k)
        if j > i:
            moved[f"{path}.{j - 1}{dot}{tail}"] = v
        elif j < i:
            moved[k] = v
    values.update(moved)
    values[path + "._n"] = [str(max(0, count - 1))]


def _body_desc(mtype: MessageType) -> Descriptor:
    desc: Any = pb.Payload.DESCRIPTOR.fields_by_name[mtype.slug].message_type
    assert desc is not None
    return desc  # type: ignore[no-any-return]


def _desc(msg: Any) -> Descriptor:
    return msg.DESCRIPTOR  # type: ignore[no-any-return]


def _filters(q: Any, gw: WebAppHost) -> tuple[ListFilter, int, list[str]]:
    problems: list[str] = []
    mt = q.get("type", "")
    try:
        mtype = int(MessageType.from_slug(mt)) if mt else 0
    except Malformed:
        mtype, problems = 0, [*problems, "type"]
    pr = q.get("priority", "")
    priority = int(pr) if pr in ("1", "2", "3") else 0
    ref = q.get("case", "").strip()
    if ref and not _CASE_REF.fullmatch(ref):
        ref, problems = "", [*problems, "case"]
    since = until = 0
    for name in ("from", "to"):
        day = q.get(name, "")
        if not day:
            continue
        try:
            d = datetime.fromisoformat(day).date()
            ms = int(datetime(d.year, d.month, d.day, tzinfo=gw.zone).timestamp() * 1000)
        except ValueError:
            problems.append(name)
            continue
        if name == "from":
            since = ms
        else:
            until = ms + 86_400_000
    pg = q.get("page", "0")
    page_no = min(int(pg), 10_000) if pg.isascii() and pg.isdigit() else 0
    return ListFilter(mtype, ref, priority, since, until), page_no, problems


async def _reply_values(gw: WebAppHost, reply: str) -> tuple[dict[str, list[str]], list[str]]:
    """Pre-fill a reply: case reference, reply-to, in-reply-to, recipients, deadline."""
    if not _HEX_ID.fullmatch(reply):
        raise NotFound("a message id is 32 lower-case hex digits")
    rows = await gw.store.call(gw.store.sync.inbox_envelope, bytes.fromhex(reply))
    if len(rows) != 1:
        raise NotFound("no such message in the inbox")
    env = envelope.verify_stored(rows[0]["raw"], gw.directory,
                                 received_at_ms=rows[0]["stored_at_ms"],
                                 max_size=gw.config.max_envelope_bytes)
    payload = envelope.open_envelope(env, gw.keyring)
    ctx = payload.context
    sender = env.header.sender
    values = {"context.case_reference": [ctx.case_reference],
              "context.in_reply_to": [ctx.in_reply_to or reply],
              "context.reply_to": [gw.office_id],
              "context.priority": [str(int(ctx.priority))],
              "context.handling_code": [str(int(ctx.handling_code))]}
    if ctx.deadline_ms:
        zone = gw.zone if gw.zone.key in forms.ZONES else ZoneInfo("UTC")
        t = datetime.fromtimestamp(ctx.deadline_ms / 1000, tz=zone)
        values["context.deadline.local"] = [f"{t:%Y-%m-%dT%H:%M}"]
        values["context.deadline.zone"] = [zone.key]
    return values, [sender]
