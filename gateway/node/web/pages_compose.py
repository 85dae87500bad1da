"""Compose: a form generated from the payload's descriptor (``gateway.views.forms``), its
repeated items added and removed without losing what was typed, a reply pre-filled.

Each rendered form carries a key of its session (``webauth.form_key``); sending goes through
the officer API's idempotency store under that key, told "the same request" by the form's
values: a double click or a reload-and-resubmit sends once and shows the same answer; the
same form sent again with other values is refused (``web.form_already_sent``).

Drafts (``store.drafts``: sealed at rest, shredded with the envelopes): "save draft" stores
the form as it stands, unchecked, and reopens it (``?draft=<id>``) with every value;
sending it deletes the draft; ``/app/drafts`` lists them by type, recipients and time.
The compose pages are the content roles'."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import nacl.utils
from aiohttp import web
from google.protobuf.descriptor import Descriptor
from multidict import MultiDictProxy

from gateway.node import webauth as auth
from gateway.node.ports import WebAppHost
from gateway.node.web.context import HEX_ID, PREFIX, SESSION, SESSION_ID, WebContext
from gateway.protocol import envelope
from gateway.protocol.errors import Forbidden, GatewayError, IdempotencyKeyReused, NotFound
from gateway.protocol.glossary import term
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.views import forms
from gateway.views.render import label_of

__all__ = ["add_routes"]


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw, page = cx.gw, cx.page

    async def compose(request: web.Request) -> web.Response:
        sess = request[SESSION]
        if sess.role not in auth.CONTENT_ROLES:
            await cx.refuse(request, Forbidden.code)
            raise Forbidden(f"role {sess.role} does not send messages")
        q = request.query
        draft = q.get("draft", "")
        if draft:
            d = await gw.store.call(gw.store.sync.open_draft, sess.user, _draft_id(draft))
            return compose_page(request, MessageType.from_slug(d["message_type"]),
                                d["values"], {}, d["to"], "", draft=draft,
                                saved=q.get("saved") == "1")
        slug = q.get("type", "")
        if not slug:
            drafts = await gw.store.call(gw.store.sync.list_drafts, sess.user)
            return page(request, "choose.html", types=list(MessageType), drafts=len(drafts))
        mtype = MessageType.from_slug(slug)
        values: dict[str, list[str]] = {}
        to: list[str] = []
        reply = q.get("reply", "")
        if reply:
            values, to = await _reply_values(gw, reply)
        return compose_page(request, mtype, values, {}, to, "")

    def compose_page(request: web.Request, mtype: MessageType, values: dict[str, list[str]],
                     errors: dict[str, str], to: list[str], problem: str,
                     status: int = 200, key: str | None = None, draft: str = "",
                     saved: bool = False) -> web.Response:
        sess = request[SESSION]
        desc = _body_desc(mtype)
        nodes = forms.build(desc, values, errors, sess.lang, gw.zone.key)
        peers = sorted(gw.deliveries)
        return page(request, "compose.html", status=status, mtype=mtype, nodes=nodes,
                    peers=peers, to=to, problem=problem, errors=errors,
                    title=label_of(desc), to_error=errors.get("to", ""),
                    form_key=key or auth.form_key(request[SESSION_ID]), draft=draft,
                    saved=saved)

    async def compose_post(request: web.Request) -> web.StreamResponse:
        sess = cx.need_content(request)
        form = await request.post()
        mtype = MessageType.from_slug(str(form.get("type", "")))
        values = _values(form)
        to = [t for t in values.pop("to", []) if t in gw.deliveries]
        for k in ("csrf", "type", "form_key", "draft", "_draft"):
            values.pop(k, None)
        key = auth.form_key_of(request[SESSION_ID], form.get("form_key"))
        draft = str(form.get("draft", ""))
        draft_id = _draft_id(draft) if draft else None
        action = _first(values.pop("_add", [])) or _first(values.pop("_remove", []))
        if action:
            _edit_items(values, action, add="_add" in form)
            return compose_page(request, mtype, values, {}, to, "", key=key, draft=draft)
        if "_draft" in form:  # save as it stands (unchecked), then reopen it
            draft_id = draft_id or nacl.utils.random(16)
            await gw.store.call(gw.store.sync.save_draft, sess.user, draft_id, mtype.slug, to,
                                values, gw.clock.now_ms())
            raise web.HTTPSeeOther(f"{PREFIX}compose?draft={draft_id.hex()}&saved=1")
        body = pb.__dict__[_body_desc(mtype).name]()
        errors = forms.parse(body, values, sess.lang)
        if not to:
            errors["to"] = term("web.required").text(sess.lang)
        if errors:
            return compose_page(request, mtype, values, errors, to,
                                term("web.fix_fields").text(sess.lang), status=400, key=key,
                                draft=draft)
        if key is None:  # not a form this session rendered: nothing to tell a resend by
            return compose_page(request, mtype, values, {}, to,
                                term("web.form_expired").text(sess.lang), status=400,
                                draft=draft)
        # The form's values tell "the same request" (not its CSRF token: one per session).
        sent = json.dumps([mtype.slug, sorted(to), sorted(values.items())],
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        payload = Payload(body)
        try:
            await cx.keyed.once(
                sess.user, key, (b"POST", b"/app/compose", sent),
                lambda idem: gw.submit(payload, to, user=sess.user, idempotency=idem),
                lambda mid: {"message_id": mid.hex(), "state": "queued", "to": to,
                             "type": mtype.slug}, 201)
        except IdempotencyKeyReused:
            return compose_page(request, mtype, values, {}, to,
                                term("web.form_already_sent").text(sess.lang), status=422,
                                draft=draft)
        except GatewayError as e:
            return compose_page(request, mtype, values, {}, to, f"{e.code}: {e.message}",
                                status=e.http_status, key=key, draft=draft)
        if draft_id is not None:  # sent (or sent before: a replay): the draft is done
            await gw.store.call(gw.store.sync.delete_draft, sess.user, draft_id)
        raise web.HTTPSeeOther(PREFIX + "sent?ok=1")

    async def drafts(request: web.Request) -> web.Response:
        sess = cx.need_content(request)
        rows = await gw.store.call(gw.store.sync.list_drafts, sess.user)
        return page(request, "drafts.html", drafts=rows,
                    done=request.query.get("deleted") == "1")

    async def delete_draft(request: web.Request) -> web.StreamResponse:
        sess = cx.need_content(request)
        form = await request.post()
        if not await gw.store.call(gw.store.sync.delete_draft, sess.user,
                                   _draft_id(str(form.get("draft", "")))):
            raise NotFound("no such draft")
        raise web.HTTPSeeOther(PREFIX + "drafts?deleted=1")

    app.router.add_get("/compose", compose)
    app.router.add_post("/compose", compose_post)
    app.router.add_get("/drafts", drafts)
    app.router.add_post("/drafts/delete", delete_draft)


def _draft_id(given: str) -> bytes:
    if not HEX_ID.fullmatch(given):
        raise NotFound("a draft id is 32 lower-case hex digits")
    return bytes.fromhex(given)


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


async def _reply_values(gw: WebAppHost, reply: str) -> tuple[dict[str, list[str]], list[str]]:
    """Pre-fill a reply: case reference, reply-to, in-reply-to, recipients, deadline."""
    if not HEX_ID.fullmatch(reply):
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
