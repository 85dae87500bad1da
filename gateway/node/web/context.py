"""What every page module of the web app shares: the rendering of a page, the refusal log,
names, times and labels in the viewer's language, the session of a request.

``WebContext`` is built once per application by ``app.build_web_app`` and handed to each
``pages_*`` module's ``add_routes``; it holds the port (``WebAppHost``), never the
composition root.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import jinja2
from aiohttp import web

from gateway.node import roles
from gateway.node import webauth as auth
from gateway.node.idempotency import KeyedRequests
from gateway.node.logs import get_logger
from gateway.node.ports import WebAppHost
from gateway.node.web.keyed import new_key
from gateway.protocol.errors import CsrfRejected, Forbidden
from gateway.protocol.glossary import term
from gateway.protocol.localtime import local_time
from gateway.protocol.messages import MessageType, pb
from gateway.store.web import SessionInfo, WebStore
from gateway.views.render import label_of

__all__ = ["COOKIE", "CSP", "HEX_ID", "IDLE_MS", "LANGS", "LIFETIME_MS", "PAGE", "PREFIX",
           "PRE_COOKIE", "SESSION", "SESSION_ID", "Handler", "WebContext", "country_label",
           "lang_of", "pre_lang", "set_cookie", "state_label", "status_label", "t"]

log = get_logger("webapp")
PREFIX = "/app/"
IDLE_MS = 30 * 60_000  # the defaults of web_session_idle_minutes and _lifetime_hours
LIFETIME_MS = 12 * 3600_000
PAGE = 50
COOKIE = "blo_session"
PRE_COOKIE = "blo_pre"
LANGS = ("vi", "zh")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEX_ID = re.compile(r"[0-9a-f]{32}")
SESSION: web.RequestKey[SessionInfo] = web.RequestKey("web_session", SessionInfo)
SESSION_ID: web.RequestKey[str] = web.RequestKey("web_session_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("gateway.views", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)


def country_label(code: str, lang: str) -> str:
    """A country's name in ``lang`` (the glossary's ``country.vn``, ``country.cn``); a code
    the glossary does not name is shown as it is."""
    try:
        return term(f"country.{code.lower()}").text(lang)
    except KeyError:
        return code or "—"


def t(lang: str) -> Callable[[str], str]:
    return lambda key: term(key).text(lang)


class WebContext:
    """The web app's shared pieces for one gateway (see the module docstring)."""

    def __init__(self, gw: WebAppHost) -> None:
        self.gw = gw
        self.env = _env()
        self.ws = WebStore(gw.store.sync)
        self.key = auth.web_key(gw.config.home)
        self.keyed = KeyedRequests(gw.store)  # the forms' idempotency keys: the API's store
        self.idle_ms = int(gw.config.web_session_idle_minutes * 60_000)
        self.lifetime_ms = int(gw.config.web_session_lifetime_hours * 3_600_000)

    def names(self) -> dict[str, tuple[str, str]]:
        return {o.office_id: (o.name_vi, o.name_zh)
                for o in self.gw.directory.offices.values()}

    def office_name(self, oid: str, lang: str) -> str:
        vi, zh = self.names().get(oid, (oid, oid))
        return vi if lang == "vi" else zh

    def office_groups(self, oids: Iterable[str]) -> list[tuple[str, list[str]]]:
        """``oids`` by country, as a list of twenty offices needs to be read: the other
        country's offices first, then our own; (country code, office ids), empty groups
        left out. Within a group, the order of the ids (country, province, place: an office
        next to the posts of its province), the same in both languages, so that two officers
        on the phone read the same list. An id the directory does not list comes last,
        under country ""."""
        offices = self.gw.directory.offices
        ours = offices[self.gw.office_id].country if self.gw.office_id in offices else ""
        groups: dict[str, list[str]] = {}
        for oid in oids:
            groups.setdefault(offices[oid].country if oid in offices else "", []).append(oid)
        for members in groups.values():
            members.sort()
        return sorted(groups.items(), key=lambda g: (g[0] == "", g[0] == ours, g[0]))

    def when(self, ms: int | None) -> str:
        return local_time(int(ms), self.gw.zone) if ms else ""

    @staticmethod
    def type_label(mt: int | str, lang: str) -> str:
        """The label of a message type given as its number or its slug."""
        slug = mt if isinstance(mt, str) else MessageType(mt).slug
        desc: Any = pb.Payload.DESCRIPTOR.fields_by_name[slug]
        vi, zh = label_of(desc)
        return vi if lang == "vi" else zh

    def page(self, request: web.Request, name: str, status: int = 200,
             **ctx: Any) -> web.Response:
        sess = request.get(SESSION)
        lang = sess.lang if sess else pre_lang(request)
        sid = request.get(SESSION_ID)
        role = sess.role if sess else ""
        html = self.env.get_template(name).render(
            t=t(lang), lang=lang, other="zh" if lang == "vi" else "vi", session=sess,
            csrf=auth.csrf_token(sid) if sid else "", zone=self.gw.zone.key, when=self.when,
            office=self.gw.office_id, office_name=lambda o: self.office_name(o, lang),
            office_groups=self.office_groups, country_label=lambda c: country_label(c, lang),
            type_label=lambda mt: self.type_label(mt, lang), path=request.path,
            role_label=(t(lang)(f"web.role.{sess.role}") if sess else ""),
            can=lambda area: roles.may(role, area),
            can_read=lambda mt: roles.may_read(role, mt),
            can_send=lambda mt: roles.may_send(role, mt),
            new_key=new_key, **ctx)
        return web.Response(text=html, status=status, content_type="text/html",
                            charset="utf-8")

    async def refuse(self, request: web.Request, code: str, **fields: Any) -> None:
        event: dict[str, Any] = {"t": self.gw.clock.now_ms(), "code": code, **fields}
        sess = request.get(SESSION)
        if sess is not None:
            event.setdefault("user", sess.user)
        if SESSION_ID in request:
            event["session"] = auth.session_hash(request[SESSION_ID]).hex()
        await self.gw.store.call(self.ws.refuse, event)
        log.info("web_refused", code=code, user_id=event.get("user"))

    async def check_csrf(self, request: web.Request, given: object) -> None:
        """Refuse (and log) a state-changing request without this session's form token."""
        if not isinstance(given, str) or not hmac.compare_digest(
                given.encode(), auth.csrf_token(request[SESSION_ID]).encode()):
            await self.refuse(request, CsrfRejected.code)
            raise CsrfRejected("the form token is missing or not this session's")

    @staticmethod
    def need_content(request: web.Request) -> SessionInfo:
        sess = request[SESSION]
        if sess.role not in auth.CONTENT_ROLES:
            raise Forbidden(f"role {sess.role} never sees message content")
        return sess

    async def need_role(self, request: web.Request, kind: str, *roles: str) -> SessionInfo:
        """The session, if its role is one of ``roles``; else a 403 logged with ``kind``
        (which page or action was refused)."""
        sess = request[SESSION]
        if sess.role not in roles:
            await self.refuse(request, Forbidden.code, kind=kind)
            raise Forbidden(f"role {sess.role} may not open this page")
        return sess


def lang_of(request: web.Request) -> str:
    sess = request.get(SESSION)
    return sess.lang if sess else pre_lang(request)


def pre_lang(request: web.Request) -> str:
    """Before sign-in: ``?lang=`` or the browser's preference (zh if it asks for Chinese)."""
    lang = request.query.get("lang", "")
    if lang in LANGS:
        return lang
    accept = request.headers.get("Accept-Language", "").lower()
    return "zh" if accept.startswith("zh") else "vi"


def set_cookie(request: web.Request, resp: web.StreamResponse, name: str, value: str) -> None:
    resp.set_cookie(name, value, path=PREFIX, httponly=True, samesite="Strict",
                    secure=request.secure or None)


def state_label(state: str, lang: str) -> str:
    try:
        return term(f"state.{state}").text(lang)
    except KeyError:
        return state


def status_label(state: str, lang: str) -> str:
    try:
        return term(f"ui.status.{state}").text(lang)
    except KeyError:
        return state
