"""The handover of one case, step by step, on its case page: plan, agree, record, countersign,
and the bilingual PDF record with both signatures (``gateway.protocol.workflow``: proposed |
counter_proposed → agreed → executed).

* **Plan** — a repatriation notice composed with the generated form (``/app/compose``).
* **Agree** — the receiving side's answer: the plan it received, step ``agreement``, sent
  back (``protocol.handover.agreement_to``); or a **counter-proposal**: the plan's form
  pre-filled, to be changed (another time or place), step ``counter_proposal``
  (``protocol.handover.counter_proposal_to``), which the other side agrees to in turn.
* **Record** — the handover record form, generated like every form and pre-filled from the
  plan as agreed (``protocol.handover.record_from``); sending it signs it too
  (``Gateway.submit``).
* **Countersign** — the other side signs the record's exact bytes, through the same code as
  the officer API's ``countersign`` (``records.countersign``).
* **PDF** — ``records.record_pdf``: both languages, both signatures and whether they verify.

Showing the signatures decrypts the record: only roles that read content see the steps, and
each view is an audit leaf (``records.open_record``). Every step that sends is a POST with
the CSRF token and the form's idempotency key (``web.keyed``), and only for a role that may
send handover messages (``roles.may_send``; else 403, logged).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from google.protobuf.descriptor import Descriptor

from gateway.node import records, roles
from gateway.node.web import keyed
from gateway.node.web.context import HEX_ID, PREFIX, SESSION, WebContext, t

# the compose form's own handling of posted values and of added/removed items, reused
from gateway.node.web.pages_compose import _edit_items, _values
from gateway.protocol.errors import Conflict, Forbidden, NotFound
from gateway.protocol.handover import agreement_to, counter_proposal_to, record_from
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.store import IdempotentAnswer
from gateway.views import forms
from gateway.views.render import label_of

__all__ = ["DONE", "add_routes", "steps"]

DONE = ("agreed", "counter_proposed", "recorded", "countersigned")
_OPEN = frozenset({"proposed", "counter_proposed", "postponed"})
_AGREED = frozenset({"agreed", "scheduled", "executed", "closed"})
_NOTICE, _RECORD = int(MessageType.REPATRIATION_NOTICE), int(MessageType.HANDOVER_RECORD)
_COUNTER_STEP = 2
#: the steps made with a generated form: the body, and the states in which they can be made
_FORMS: dict[str, tuple[Any, frozenset[str]]] = {
    "record": (pb.HandoverRecord, frozenset({"agreed", "scheduled"})),
    "counter": (pb.RepatriationNotice, _OPEN),
}


def _root(request: web.Request) -> str:
    root = request.match_info["id"]
    if not HEX_ID.fullmatch(root):
        raise NotFound("a case id is 32 lower-case hex digits")
    return root


def _other(item: dict[str, Any], office: str) -> str:
    return str(item["counterpart"] if item["opened_by"] == office else item["opened_by"])


def _last(events: list[dict[str, Any]], mtype: int, direction: str = "") -> dict[str, Any] | None:
    found = [e for e in events if e["message_type"] == mtype
             and (not direction or e["direction"] == direction)]
    return found[-1] if found else None


async def steps(cx: WebContext, request: web.Request, item: dict[str, Any] | None,
                events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The state of each step of a handover case for the case page (None: not a handover,
    or a role that does not see it)."""
    sess = request[SESSION]
    if item is None or item["kind"] != "handover" or not roles.may(sess.role, "handover"):
        return None
    gw, state = cx.gw, item["state"]
    plan = next((e for e in events if e["message_id"].hex() == item["root_id"]), None)
    last_notice = _last(events, _NOTICE)
    record = _last(events, _RECORD)
    sigs: dict[str, Any] = {}
    parties = [item["opened_by"], item["counterpart"]]
    complete = False
    if record is not None:
        view = await records.open_record(gw, record["message_id"], sess.user)
        sigs, parties, complete = view["signatures"], view["parties"], view["complete"]
    sends = roles.may_send(sess.role, _RECORD)
    return {
        "state": state, "plan": plan, "other": _other(item, gw.office_id),
        "agreement": last_notice if state in _AGREED and last_notice is not plan else None,
        "agreed": state in _AGREED, "record": record, "signatures": sigs,
        "parties": parties, "complete": complete,
        "can_agree": sends and state in _OPEN and last_notice is not None
        and last_notice["direction"] == "in",
        "can_counter": sends and state in _OPEN and last_notice is not None
        and last_notice["direction"] == "in",
        "can_record": sends and state in ("agreed", "scheduled") and record is None,
        "can_countersign": sends and record is not None and record["direction"] == "in"
        and gw.office_id not in sigs,
        "done": _done(request.query.get("done", ""), state,
                      record is not None and record["direction"] == "out",
                      gw.office_id in sigs),
    }


def _done(done: str, state: str, ours: bool, signed: bool) -> str:
    """The step just done (``?done=``), while it is still the latest one (not after a reload
    once the case moved on)."""
    latest = {"agreed": state == "agreed", "counter_proposed": state == "counter_proposed",
              "recorded": state == "executed" and ours,
              "countersigned": state == "executed" and not ours and signed}
    return done if latest.get(done) else ""


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def handover_case(request: web.Request, action: str
                            ) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """The handover case a step is about; 403 (logged) unless the role sends handover
        messages."""
        root = _root(request)
        sess = request[SESSION]
        if not roles.may_send(sess.role, _RECORD):
            await cx.refuse(request, Forbidden.code, kind=action, message_id=root)
            raise Forbidden(f"role {sess.role} does not {action} a handover")
        item, events = await gw.store.call(cx.ws.case_timeline, root)
        if item is None or item["kind"] != "handover":
            raise NotFound("no such handover here")
        return root, item, events

    async def plan_received(request: web.Request, events: list[dict[str, Any]]
                            ) -> tuple[str, Payload]:
        """The latest plan from the other side (the proposal, or its counter-proposal),
        opened for the user: the agreement and the record are made from it."""
        notice = _last(events, _NOTICE, "in")
        if notice is None:
            raise Conflict("no plan from the other side to agree to or record")
        _, payload = await records.open_received(gw, notice["message_id"],
                                                 request[SESSION].user,
                                                 role=request[SESSION].role)
        return notice["message_id"].hex(), payload

    async def run_keyed(request: web.Request, create: Callable[[Any], Any]) -> None:
        await keyed.run(cx.keyed, request, request[SESSION].user, create)

    async def agree(request: web.Request) -> web.StreamResponse:
        root, item, events = await handover_case(request, "agree")
        form = await request.post()
        lang = request[SESSION].lang
        text = str(form.get("remarks", "")).strip()[:2000]
        remarks = pb.LocalizedText(**{lang: text}, original=1 if lang == "vi" else 2)
        other = _other(item, gw.office_id)

        async def create(idem: Callable[[bytes], IdempotentAnswer] | None) -> bytes:
            # checked here, not before: a repeated post is answered as the first one
            if item["state"] not in _OPEN:
                raise Conflict(f"a handover that is {item['state']} cannot be agreed to")
            _, plan = await plan_received(request, events)
            payload = agreement_to(plan, root, reply_to=gw.office_id,
                                   remarks=remarks if text else None)
            return await gw.submit(payload, [other], user=request[SESSION].user,
                                   idempotency=idem)

        await run_keyed(request, create)
        raise web.HTTPSeeOther(f"{PREFIX}cases/{root}?done=agreed")

    def form_page(request: web.Request, step: str, root: str, item: dict[str, Any],
                  values: dict[str, list[str]], errors: dict[str, str], problem: str = "",
                  status: int = 200) -> web.Response:
        desc = _desc(_FORMS[step][0])
        nodes = forms.build(desc, values, errors, request[SESSION].lang, gw.zone.key)
        return cx.page(request, "handover_form.html", status=status, step=step, root=root,
                       nodes=nodes, title=label_of(desc), problem=problem,
                       case_reference=item["case_reference"], to=_other(item, gw.office_id))

    async def form_get(request: web.Request) -> web.Response:
        """The record form, or the counter-proposal form, pre-filled from the plan."""
        step = request.match_info["step"]
        root, item, events = await handover_case(request, step)
        if item["state"] not in _FORMS[step][1]:
            raise Conflict(f"a handover that is {item['state']} has no {step} step now")
        notice_id, plan = await plan_received(request, events)
        if step == "record":
            payload = record_from(plan, notice_id, root)
        else:
            payload = counter_proposal_to(plan, root, reply_to=gw.office_id)
        return form_page(request, step, root, item, forms.values_of(payload.body, gw.zone.key),
                         {})

    async def form_post(request: web.Request) -> web.StreamResponse:
        step = request.match_info["step"]
        root, item, _ = await handover_case(request, step)
        form = await request.post()
        values = _values(form)
        for k in ("csrf", keyed.FIELD):
            values.pop(k, None)
        add, remove = values.pop("_add", []), values.pop("_remove", [])
        if add or remove:
            _edit_items(values, (add or remove)[0], add=bool(add))
            return form_page(request, step, root, item, values, {})
        lang = request[SESSION].lang
        body = _FORMS[step][0]()
        errors = forms.parse(body, values, lang)
        if errors:
            return form_page(request, step, root, item, values, errors,
                             t(lang)("web.fix_fields"), status=400)
        body.context.in_reply_to = root  # it answers the plan, whatever was typed
        if step == "counter":
            body.step = _COUNTER_STEP
        other = _other(item, gw.office_id)

        async def create(idem: Callable[[bytes], IdempotentAnswer] | None) -> bytes:
            return await gw.submit(Payload(body), [other], user=request[SESSION].user,
                                   idempotency=idem)

        await run_keyed(request, create)
        done = "recorded" if step == "record" else "counter_proposed"
        raise web.HTTPSeeOther(f"{PREFIX}cases/{root}?done={done}")

    async def countersign(request: web.Request) -> web.StreamResponse:
        root, _, events = await handover_case(request, "countersign")
        record = _last(events, _RECORD, "in")
        if record is None:
            raise Conflict("no handover record from the other side to countersign")
        rid = record["message_id"]

        async def create(idem: Callable[[bytes], IdempotentAnswer] | None) -> bytes:
            return await records.countersign(gw, rid, user=request[SESSION].user,
                                             idempotency=idem)

        await run_keyed(request, create)
        raise web.HTTPSeeOther(f"{PREFIX}cases/{root}?done=countersigned")

    async def record_pdf(request: web.Request) -> web.Response:
        root = _root(request)
        sess = request[SESSION]
        if not roles.may(sess.role, "handover"):
            await cx.refuse(request, Forbidden.code, kind="record_pdf", message_id=root)
            raise Forbidden(f"role {sess.role} never sees a handover record")
        _, events = await gw.store.call(cx.ws.case_timeline, root)
        record = _last(events, _RECORD)
        if record is None:
            raise NotFound("this case has no handover record yet")
        view = await records.open_record(gw, record["message_id"], sess.user)
        # a few seconds of font subsetting: on a thread, so the gateway keeps answering
        pdf = await asyncio.to_thread(records.record_pdf, gw, view)
        return web.Response(body=pdf, content_type="application/pdf",
                            headers={"Content-Disposition":
                                     f'attachment; filename="handover_{root[:8]}.pdf"'})

    async def back(request: web.Request) -> web.StreamResponse:
        """A step's address opened with GET (the language switched on its answer page):
        the case page."""
        raise web.HTTPSeeOther(f"{PREFIX}cases/{_root(request)}")

    app.router.add_get("/cases/{id}/{step:agree|countersign}", back)
    app.router.add_post("/cases/{id}/agree", agree)
    app.router.add_get("/cases/{id}/{step:record|counter}", form_get)
    app.router.add_post("/cases/{id}/{step:record|counter}", form_post)
    app.router.add_post("/cases/{id}/countersign", countersign)
    app.router.add_get("/cases/{id}/record.pdf", record_pdf)


def _desc(cls: Any) -> Descriptor:
    return cls.DESCRIPTOR  # type: ignore[no-any-return]
