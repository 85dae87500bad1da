"""The message page and what a user does with a received message: acknowledge, reject with a
written reason, forward, print.

* The page decrypts only when opened by a role that may read the message's type
  (``roles.may_read``; else 403, logged); the read is an audit leaf (``records.open_received``).
* Each action is a POST with the session's CSRF token and the form's idempotency key
  (``web.keyed``): a repeated post makes one message. Acknowledgement and rejection are
  messages to the sender (the workflow moves on both sides: ``protocol.workflow``); a
  forward is the officer API's (``records.forward``): where the handling code forbids it the
  page explains, in both languages, which code forbids it, and the refusal is an audit leaf.
* A rejection needs its written reason: without it the page comes back with the error
  beside the field and nothing typed lost.
* Print: ``static/print.css`` (the page without navigation and forms); the print button is
  the small script's, nothing inline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from google.protobuf.descriptor import Descriptor

from gateway.node import records, roles
from gateway.node.web import keyed
from gateway.node.web.context import HEX_ID, PREFIX, SESSION, WebContext, log, state_label, t
from gateway.protocol import envelope
from gateway.protocol.errors import Forbidden, NotFound
from gateway.protocol.localtime import party_zones, utc_offset_minutes
from gateway.protocol.messages import Payload, pb
from gateway.protocol.release import RESTRICTED, HandlingRestricted
from gateway.store import IdempotentAnswer
from gateway.views.render import header_rows, label_of, rows_for

__all__ = ["DONE", "add_routes", "handling_label"]

#: what a finished action shows on the message page (``?done=``)
DONE = ("acknowledged", "rejected", "forwarded")
_LANG_ENUM = {"vi": 1, "zh": 2}
_REASONS: Any = pb.Rejection.DESCRIPTOR.fields_by_name["reason_code"].enum_type


def handling_label(code: int) -> tuple[str, str]:
    """The (vi, zh) label of a handling code, from the schema's labels (the glossary)."""
    enum: Any = pb.MessageContext.DESCRIPTOR.fields_by_name["handling_code"].enum_type
    desc = enum.values_by_number.get(code)
    return label_of(desc) if desc is not None else (str(code), str(code))


def _mid(request: web.Request) -> tuple[str, bytes]:
    mid_hex = request.match_info["id"]
    if not HEX_ID.fullmatch(mid_hex):
        raise NotFound("a message id is 32 lower-case hex digits")
    return mid_hex, bytes.fromhex(mid_hex)


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def opened(request: web.Request) -> tuple[str, envelope.VerifiedEnvelope, Payload]:
        """Open the message for the session's user (403, logged, if the role may not)."""
        mid_hex, mid = _mid(request)
        sess = request[SESSION]
        try:
            env, payload = await records.open_received(gw, mid, sess.user, role=sess.role)
        except Forbidden:
            await cx.refuse(request, Forbidden.code, message_id=mid_hex)
            raise
        log.info("message_opened", message_id=mid_hex, user_id=sess.user)
        return mid_hex, env, payload

    async def show(request: web.Request, mid_hex: str, env: envelope.VerifiedEnvelope,
                   payload: Payload, *, status: int = 200, reason: str = "",
                   reason_code: str = "", errors: dict[str, str] | None = None,
                   refusal: tuple[str, str] | None = None, to: list[str] | None = None
                   ) -> web.Response:
        h = env.header
        zones = party_zones(gw.directory.offices, gw.office_id, gw.zone)
        root = payload.context.in_reply_to or mid_hex
        item = await gw.store.call(gw.store.sync.case_state, root)
        code = int(h.handling_code)
        reasons = _REASONS.values
        lang = request[SESSION].lang
        done = request.query.get("done", "")
        return cx.page(
            request, "message.html", status=status, mid=mid_hex,
            both=request.query.get("view") == "both", header=header_rows(h, cx.names(), zones),
            body=list(rows_for(payload.body)), title=label_of(_desc(payload.body)),
            sender=h.sender, case_root=root, message_type=int(h.message_type),
            item=item, state_label=state_label, done=done if done in DONE else "",
            handling=handling_label(code)[0 if lang == "vi" else 1],
            restricted=code in RESTRICTED, reason=reason, reason_code=reason_code,
            reasons=[(str(v.number), label_of(v)[0 if lang == "vi" else 1])
                     for v in reasons if v.number], errors=errors or {}, refusal=refusal,
            peers=[p for p in sorted(gw.deliveries) if p != h.sender], to=to or [])

    async def message(request: web.Request) -> web.Response:
        mid_hex, env, payload = await opened(request)
        return await show(request, mid_hex, env, payload)

    async def acting(request: web.Request, action: str
                     ) -> tuple[str, bytes, envelope.VerifiedEnvelope]:
        """The received message an action is about, verified as stored (its header; nothing
        decrypted); 403 (logged) unless the role acts on messages of its type."""
        mid_hex, mid = _mid(request)
        sess = request[SESSION]
        rows = await gw.store.call(gw.store.sync.inbox_envelope, mid)
        if len(rows) != 1:
            raise NotFound("no such message in the inbox")
        if not roles.may_send(sess.role, rows[0]["message_type"]):
            await cx.refuse(request, Forbidden.code, kind=action, message_id=mid_hex)
            raise Forbidden(f"role {sess.role} does not {action} this message")
        env = envelope.verify_stored(rows[0]["raw"], gw.directory,
                                     received_at_ms=rows[0]["stored_at_ms"],
                                     max_size=gw.config.max_envelope_bytes)
        return mid_hex, mid, env

    def zoned_now() -> Any:
        now = gw.clock.now_ms()
        return pb.ZonedTime(unix_millis=now, utc_offset_minutes=utc_offset_minutes(now, gw.zone))

    def text_in(lang: str, text: str) -> Any:
        return pb.LocalizedText(**{lang: text}, original=_LANG_ENUM[lang])

    def context_for(env: envelope.VerifiedEnvelope, in_reply_to: str) -> Any:
        h = env.header
        return pb.MessageContext(case_reference=h.case_reference, in_reply_to=in_reply_to,
                                 reply_to=gw.office_id, priority=int(h.priority),
                                 handling_code=int(h.handling_code))

    async def send(request: web.Request, body: Any, to: list[str]) -> bytes:
        user = request[SESSION].user

        async def create(idem: Any) -> bytes:
            return await gw.submit(Payload(body), to, user=user, idempotency=idem)

        mid, _ = await keyed.run(cx.keyed, request, user, create)
        return mid

    async def acknowledge(request: web.Request) -> web.StreamResponse:
        mid_hex, _, env = await acting(request, "acknowledge")
        form = await request.post()
        sess = request[SESSION]
        remarks = str(form.get("remarks", "")).strip()[:2000]
        # the acknowledgement of an item's first message moves it (a notice: acknowledged);
        # of a later one it names that message and moves nothing
        ack = pb.Acknowledgement(context=context_for(env, mid_hex), subject_message_id=mid_hex,
                                 acknowledged_at=zoned_now())
        if remarks:
            ack.remarks.CopyFrom(text_in(sess.lang, remarks))
        await send(request, ack, [env.header.sender])
        raise web.HTTPSeeOther(f"{PREFIX}messages/{mid_hex}?done=acknowledged")

    async def reject(request: web.Request) -> web.StreamResponse:
        mid_hex, _, env = await acting(request, "reject")
        form = await request.post()
        lang = request[SESSION].lang
        reason = str(form.get("reason", "")).strip()
        code = str(form.get("reason_code", ""))
        errors = {}
        if not reason:
            errors["reason"] = t(lang)("web.required")
        elif len(reason) > 2000:
            errors["reason"] = t(lang)("web.too_long")
        if code not in {str(v.number) for v in _REASONS.values if v.number}:
            errors["reason_code"] = t(lang)("web.bad_choice")
        if errors:
            _, env, payload = await opened(request)
            return await show(request, mid_hex, env, payload, status=400, reason=reason,
                              reason_code=code, errors=errors)
        root = env.header.in_reply_to or mid_hex
        body = pb.Rejection(context=context_for(env, root), subject_message_id=mid_hex,
                            reason_code=int(code), reason=text_in(lang, reason))
        await send(request, body, [env.header.sender])
        raise web.HTTPSeeOther(f"{PREFIX}messages/{mid_hex}?done=rejected")

    async def forward(request: web.Request) -> web.StreamResponse:
        mid_hex, mid, _ = await acting(request, "forward")
        form = await request.post()
        sess = request[SESSION]
        to = [str(x) for x in form.getall("to", []) if str(x) in gw.deliveries]
        if not to:
            _, env, payload = await opened(request)
            return await show(request, mid_hex, env, payload, status=400,
                              errors={"to": t(sess.lang)("web.required")})

        async def create(idem: Callable[[bytes], IdempotentAnswer] | None) -> bytes:
            return await records.forward(gw, mid, to, user=sess.user, idempotency=idem)

        try:
            await keyed.run(cx.keyed, request, sess.user, create)
        except HandlingRestricted:
            await cx.refuse(request, HandlingRestricted.code, kind="forward",
                            message_id=mid_hex)
            _, env, payload = await opened(request)
            vi, zh = handling_label(int(env.header.handling_code))
            refusal = (f"{t('vi')('web.forward_refused')}: {vi}",
                       f"{t('zh')('web.forward_refused')}：{zh}")
            return await show(request, mid_hex, env, payload, status=403, refusal=refusal,
                              to=to)
        raise web.HTTPSeeOther(f"{PREFIX}messages/{mid_hex}?done=forwarded")

    async def back(request: web.Request) -> web.StreamResponse:
        """An action's address opened with GET (the language switched on its answer page):
        the message page."""
        mid_hex, _ = _mid(request)
        raise web.HTTPSeeOther(f"{PREFIX}messages/{mid_hex}")

    app.router.add_get("/messages/{id}", message)
    app.router.add_get("/messages/{id}/{action:acknowledge|reject|forward}", back)
    app.router.add_post("/messages/{id}/acknowledge", acknowledge)
    app.router.add_post("/messages/{id}/reject", reject)
    app.router.add_post("/messages/{id}/forward", forward)


def _desc(msg: Any) -> Descriptor:
    return msg.DESCRIPTOR  # type: ignore[no-any-return]
