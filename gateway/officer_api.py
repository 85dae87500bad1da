"""The local officer API: JSON over HTTP, a bearer token per user, roles.

Roles: ``officer`` sends and reads; ``auditor`` sees metadata and states but
cannot open a message; ``admin`` may do both. Routes:

* ``POST /api/v1/messages`` ``{"to": [office...], "payload": {"type", "body"}}`` →
  201 ``{"message_id", "state": "queued", ...}`` only after the sealed envelope and
  its outbox rows are committed.
* ``GET /api/v1/messages`` — what we sent, with each recipient's state.
* ``GET /api/v1/messages/{id}`` — per recipient: queued / delivered (with the
  verified receipt) / dead (with code and reason), attempts, next attempt.
* ``GET /api/v1/inbox`` — received messages, metadata only.
* ``GET /api/v1/inbox/{id}?lang=vi|zh|both`` — decrypts in this process, renders
  in both languages, and records who opened it.
* ``PUT /api/v1/directory`` (admin) — body: a signed directory (``directory.bin``); installs
  it into the running gateway if it is newer, and offers it to the peers.
* ``GET /health`` (no token) — store, each peer's reachability, backlog, clock skew.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway import envelope, records
from gateway.errors import Forbidden, Malformed, NotFound, Unauthorized
from gateway.localtime import party_zones
from gateway.logs import get_logger
from gateway.messages import MessageType, Payload
from gateway.receipt import verify_receipt
from gateway.release import check_forward, released_copy
from gateway.render import LANGS, render, render_header
from gateway.stats import compute_stats, period_of, stats_csv
from gateway.web import error_middleware
from gateway.workflow import WAITING

if TYPE_CHECKING:
    from gateway.service import Gateway

__all__ = ["ROLES", "build_officer_app"]

log = get_logger("officer_api")
ROLES = ("officer", "auditor", "admin")
USER: web.RequestKey[str] = web.RequestKey("user", str)
ROLE: web.RequestKey[str] = web.RequestKey("role", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _hex_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise Malformed("a message id is 32 hex digits")
    return raw


def build_officer_app(gw: Gateway) -> web.Application:
    cache: dict[str, tuple[str, str]] = {}

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/health":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or len(header) > 200:
            raise Unauthorized("send Authorization: Bearer <token>")
        token = header.removeprefix("Bearer ").strip()
        user = cache.get(token)
        if user is None:
            user = await gw.store.call(gw.store.sync.user_for_token, token)
            if user is None:
                raise Unauthorized("unknown token")
            cache[token] = user
            await gw.store.call(gw.store.sync.audit, [{"t": gw.clock.now_ms(),
                                                       "type": "user.login", "user": user[0]}])
        request[USER], request[ROLE] = user
        return await handler(request)

    def need(request: web.Request, *roles: str) -> str:
        if request[ROLE] not in (*roles, "admin"):
            raise Forbidden(f"role {request[ROLE]} may not do this")
        return request[USER]

    async def submit(request: web.Request) -> web.Response:
        user = need(request, "officer")
        try:
            data = await request.json()
        except ValueError as e:
            raise Malformed("the body must be JSON") from e
        if not isinstance(data, dict):
            raise Malformed('send {"to": [...], "payload": {...}}')
        to = data.get("to")
        if not isinstance(to, list) or not to or not all(isinstance(t, str) for t in to):
            raise Malformed('"to" must be a non-empty list of office ids')
        payload = Payload.from_dict(data.get("payload"))  # type: ignore[arg-type]
        mid = await gw.submit(payload, to, user=user)
        return web.json_response({"message_id": mid.hex(), "state": "queued", "to": to,
                                  "type": payload.message_type.slug}, status=201)

    async def status(request: web.Request) -> web.Response:
        need(request, "officer", "auditor")
        mid = _hex_id(request.match_info["id"])
        st = await gw.store.call(gw.store.sync.message_status, mid, gw.office_id)
        if st is None:
            raise NotFound("no message with that id was sent from here")
        env = st["envelope"]
        deliveries = []
        for d in st["deliveries"]:
            item: dict[str, Any] = {
                "to": d["peer"], "state": d["state"], "attempts": d["attempts"],
                "next_attempt_ms": d["next_attempt_ms"] if d["state"] == "queued" else None,
                "error_code": d["last_error_code"], "error": d["last_error"],
                "delivered_at_ms": d["delivered_at_ms"]}
            if d["receipt"] is not None:
                rec = verify_receipt(d["receipt"], gw.directory, receiver=d["peer"],
                                     message_id=mid, envelope_sha256=env["sha256"],
                                     now_ms=gw.clock.now_ms())
                item["receipt"] = {"received_at_ms": rec.received_at_ms,
                                   "signed_by": rec.signer_key_id, "verified": True,
                                   "raw": base64.b64encode(rec.raw).decode("ascii")}
            deliveries.append(item)
        return web.json_response({
            "message_id": mid.hex(), "type": MessageType(env["message_type"]).slug,
            "created_at_ms": env["created_at_ms"], "case_reference": env["case_reference"],
            "envelope_sha256": env["sha256"].hex(), "deliveries": deliveries})

    async def outgoing(request: web.Request) -> web.Response:
        need(request, "officer", "auditor")
        rows = await gw.store.call(gw.store.sync.list_outgoing, _limit(request), gw.office_id)
        return web.json_response({"messages": [
            {"message_id": r["message_id"].hex(), "type": MessageType(r["message_type"]).slug,
             "to": r["recipients"].split(","), "created_at_ms": r["created_at_ms"],
             "case_reference": r["case_reference"], "states": r["states"]} for r in rows]})

    async def inbox_list(request: web.Request) -> web.Response:
        need(request, "officer", "auditor")
        rows = await gw.store.call(gw.store.sync.list_inbox, _limit(request))
        return web.json_response({"messages": [
            {"message_id": r["message_id"].hex(), "from": r["sender"],
             "type": MessageType(r["message_type"]).slug, "created_at_ms": r["created_at_ms"],
             "received_at_ms": r["received_at_ms"], "case_reference": r["case_reference"],
             "priority": r["priority"], "handling_code": r["handling_code"],
             "deadline_ms": r["deadline_ms"] or None, "opened_at_ms": r["opened_at_ms"],
             "opened_by": r["opened_by"]} for r in rows], "time_zone": gw.zone.key})

    async def inbox_open(request: web.Request) -> web.Response:
        user = need(request, "officer")
        mid = _hex_id(request.match_info["id"])
        lang = request.query.get("lang", "both")
        if lang not in LANGS:
            raise Malformed(f"lang must be one of {', '.join(LANGS)}")
        rows = await gw.store.call(gw.store.sync.inbox_envelope, mid)
        if len(rows) != 1:
            raise NotFound("no such message in the inbox")
        row = rows[0]
        # Verified again before decrypting, as of when it was received (it may have expired
        # for delivery since): the stored bytes must still be exactly what was signed.
        env = envelope.verify_stored(row["raw"], gw.directory,
                                     received_at_ms=row["stored_at_ms"],
                                     max_size=gw.config.max_envelope_bytes)
        payload = envelope.open_envelope(env, gw.keyring)
        await gw.store.call(gw.store.sync.mark_opened, row["iid"], user, gw.clock.now_ms(),
                            message_id=mid, sender=env.header.sender)
        log.info("message_opened", message_id=mid.hex(), user_id=user)
        names = {o.office_id: (o.name_vi, o.name_zh) for o in gw.directory.offices.values()}
        zones = party_zones(gw.directory.offices, gw.office_id, gw.zone)
        return web.json_response({
            "message_id": mid.hex(), "from": env.header.sender,
            "type": env.header.message_type.slug, "payload": payload.to_dict(),
            "text": render_header(env.header, lang, names, zones) + "\n" + render(payload, lang)})

    async def cases(request: web.Request) -> web.Response:
        """Case items with their state, deadline and whether they are overdue or due soon.
        ``?overdue=1`` keeps the overdue ones; ``?due_hours=N`` those due within N hours."""
        need(request, "officer", "auditor")
        now = gw.clock.now_ms()
        rows = await gw.store.call(gw.store.sync.cases, limit=_limit(request))
        out = []
        for r in rows:
            waiting = r["state"] in WAITING[r["kind"]]
            item = {"id": r["root_id"], "kind": r["kind"],
                    "type": MessageType(r["message_type"]).slug,
                    "case_reference": r["case_reference"], "opened_by": r["opened_by"],
                    "counterpart": r["counterpart"], "state": r["state"],
                    "created_ms": r["created_ms"], "updated_ms": r["updated_ms"],
                    "deadline_ms": r["deadline_ms"], "waiting": waiting,
                    "overdue": waiting and r["deadline_ms"] < now}
            if request.query.get("overdue") == "1" and not item["overdue"]:
                continue
            if "due_hours" in request.query:
                hours = float(request.query["due_hours"])
                if not (waiting and r["deadline_ms"] < now + hours * 3600_000):
                    continue
            out.append(item)
        return web.json_response({"now_ms": now, "cases": out, "time_zone": gw.zone.key})

    async def figures_for(request: web.Request) -> dict[str, Any]:
        need(request, "officer", "auditor")
        p = period_of(request.query, gw.zone)  # in this office's time zone
        items = await gw.store.call(gw.store.sync.cases_between, p.start_ms, p.end_ms)
        return compute_stats(items, office=gw.office_id, start_ms=p.start_ms, end_ms=p.end_ms,
                             now_ms=gw.clock.now_ms(), zone=gw.zone, period=p.name)

    async def stats(request: web.Request) -> web.Response:
        figures = await figures_for(request)
        if request.query.get("format") == "csv":
            return web.Response(text=stats_csv(figures), content_type="text/csv")
        return web.json_response(figures)

    async def record(request: web.Request) -> web.StreamResponse:
        """A handover record with both sides' signatures (``/pdf`` for the printable form)."""
        need(request, "officer")
        mid = _hex_id(request.match_info["id"])
        view = await records.record_view(gw, mid)
        user = request[USER]
        await gw.store.call(gw.store.sync.audit, [{
            "t": gw.clock.now_ms(), "type": "message.opened", "user": user,
            "message_id": mid.hex(), "peer": view["header"].sender}])
        if request.path.endswith("/pdf"):
            pdf = records.record_pdf(gw, view)
            return web.Response(body=pdf, content_type="application/pdf")
        lang = request.query.get("lang", "both")
        if lang not in LANGS:
            raise Malformed(f"lang must be one of {', '.join(LANGS)}")
        return web.json_response({
            "message_id": view["message_id"], "parties": view["parties"],
            "complete": view["complete"], "payload": view["payload"].to_dict(),
            "signatures": {o: {"key_id": s.key_id, "fingerprint": s.fingerprint,
                               "verified": s.verified, "problem": s.problem}
                           for o, s in view["signatures"].items()},
            "text": render(view["payload"], lang)})

    async def countersign(request: web.Request) -> web.Response:
        user = need(request, "officer")
        mid = _hex_id(request.match_info["id"])
        ack = await records.countersign(gw, mid, user=user)
        return web.json_response({"record": mid.hex(), "signature_message_id": ack.hex()},
                                 status=201)

    async def stats_pdf(request: web.Request) -> web.Response:
        figures = await figures_for(request)
        return web.Response(body=records.stats_pdf(figures), content_type="application/pdf")

    async def forward(request: web.Request) -> web.Response:
        """Forward a received message to other offices, within its handling code and the
        person's consent; the copy is a new message from this office."""
        user = need(request, "officer")
        mid = _hex_id(request.match_info["id"])
        try:
            data = await request.json()
            to = list(data["to"])
        except (ValueError, KeyError, TypeError) as e:
            raise Malformed('send {"to": [office, ...]}') from e
        rows = await gw.store.call(gw.store.sync.inbox_envelope, mid)
        if len(rows) != 1:
            raise NotFound("no such message in the inbox")
        env = envelope.verify_stored(rows[0]["raw"], gw.directory,
                                     received_at_ms=rows[0]["stored_at_ms"],
                                     max_size=gw.config.max_envelope_bytes)
        payload = envelope.open_envelope(env, gw.keyring)
        check_forward(payload, originator=env.header.sender, to=to)
        copy = released_copy(payload)
        body = type(copy.body)()
        body.CopyFrom(copy.body)
        body.context.in_reply_to = ""  # type: ignore[attr-defined]
        new = await gw.submit(Payload(body), to, user=user)
        return web.json_response({"forwarded": mid.hex(), "message_id": new.hex(), "to": to},
                                 status=201)

    async def install_directory(request: web.Request) -> web.Response:
        """Admin only: install a newer co-signed directory (the body, verbatim) without a
        restart; see gateway/trust.py for the checks."""
        user = need(request)
        d, previous, changed = await gw.trust.install(await request.read(),
                                                      source=f"officer:{user}")
        return web.json_response({"serial": d.serial, "previous_serial": previous,
                                  "installed": changed, "expires_at_ms": d.expires_at_ms,
                                  "revoked_keys": sorted(d.revoked)})

    async def health(request: web.Request) -> web.Response:
        return web.json_response(await gw.health())

    app = web.Application(middlewares=[error_middleware, auth_middleware],
                          client_max_size=gw.config.max_envelope_bytes)
    app.router.add_post("/api/v1/messages", submit)
    app.router.add_get("/api/v1/messages", outgoing)
    app.router.add_get("/api/v1/messages/{id}", status)
    app.router.add_get("/api/v1/inbox", inbox_list)
    app.router.add_get("/api/v1/inbox/{id}", inbox_open)
    app.router.add_post("/api/v1/inbox/{id}/forward", forward)
    app.router.add_get("/api/v1/cases", cases)
    app.router.add_get("/api/v1/stats", stats)
    app.router.add_get("/api/v1/stats.pdf", stats_pdf)
    app.router.add_get("/api/v1/records/{id}", record)
    app.router.add_get("/api/v1/records/{id}/pdf", record)
    app.router.add_post("/api/v1/records/{id}/countersign", countersign)
    app.router.add_put("/api/v1/directory", install_directory)
    app.router.add_get("/health", health)
    return app


def _limit(request: web.Request) -> int:
    try:
        return max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError as e:
        raise Malformed("limit must be a number") from e
