"""The local officer API: JSON over HTTP, a bearer token per user, roles.

(Over 400 lines: the whole route table and the strict reading of each route's input stay
together, so that what a user may send is visible in one place; the web app's pages live in
their own package.)

Roles (``gateway.node.roles``): ``officer`` sends and reads; ``border_guard`` sends and opens
repatriation notices and handover records only, and reads and countersigns records;
``supervisor`` reads (metadata, received messages, records, statistics) and sends nothing;
``auditor`` sees metadata and states but cannot open a message; ``admin`` may do all. Routes:

* ``POST /api/v1/messages`` ``{"to": [office...], "payload": {"type", "body"}}`` →
  201 ``{"message_id", "state": "queued", ...}`` only after the sealed envelope and
  its outbox rows are committed. This, ``.../forward`` and ``.../countersign`` take an
  ``Idempotency-Key`` header: a retry under the same key is answered as the first time
  (``"replayed": true``) and creates nothing (``gateway.node.idempotency``). A payload
  error (a wrong field name, a missing required field, a time without a zone) names the
  field by its label, in ``?lang=vi|zh|both`` (default both; ``gateway.views.payload_json``).
* ``GET /api/v1/messages`` — what we sent, with each recipient's state.
* ``GET /api/v1/messages/{id}`` — per recipient: queued / delivered (with the
  verified receipt and its suite, 1 or 2) / dead (with code and reason), attempts, next
  attempt.
* ``GET /api/v1/inbox`` — received messages, metadata only.
* ``GET /api/v1/inbox/{id}?lang=vi|zh|both`` — decrypts in this process, renders
  in both languages, and records who opened it.
* ``PUT /api/v1/directory`` (admin) — body: a signed directory (``directory.bin``); installs
  it into the running gateway if it is newer, and offers it to the peers.
* ``POST /api/v1/courier/export`` (admin) ``{"to": office, "max_bytes"?}`` — the next courier
  bundle for that peer (``application/octet-stream``; its summary as JSON in the
  ``BLO-Courier`` header); ``POST /api/v1/courier/import`` (admin) — body: a bundle; answers
  what it did (``gateway.node.courier``).
* ``PUT /api/v1/roots`` (admin) — ``{"root_set": base64, "directory": base64}``: a root
  rotation (``gateway.protocol.rootset``) and the first directory its new roots signed,
  installed together.
* ``/app/…`` — the web app (``gateway.node.web``): its own sessions, CSRF tokens and pages; no
  bearer token there.
* ``GET /metrics`` (auditor or admin) — Prometheus text format; every metric is defined
  and explained in ``gateway.node.metrics``.
* ``GET /health`` — with any valid token: store, each peer's reachability, backlog,
  clock skew; without a token only ``{"status": "ok"|"degraded"}``.

Every request is checked before any handler runs: the ``Host`` header must name this API
(a loopback name or address, or the configured ``api_host``: a guard against DNS
rebinding, ``WRONG_DESTINATION`` otherwise), then the token. Tokens looked up are kept only
until ``private/users.stamp`` changes, which every ``blo-gateway users``/``tokens`` command
replaces (one ``stat`` per request notices it), and at most 30 s: a disabled, removed or
revoked token is refused from the next request on.
Inputs are parsed strictly (``gateway.protocol.strict``): each route names the query
parameters and body fields it takes, integers are ASCII digits, JSON bodies are bounded in
size and depth; whatever a user sends gets a 4xx with a stable code, never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from gateway.node import courier, records
from gateway.node.http import error_middleware
from gateway.node.idempotency import KeyedRequests
from gateway.node.logs import get_logger
from gateway.node.metrics import CONTENT_TYPE
from gateway.node.ports import OfficerHost
from gateway.node.roles import ROLES, may_send
from gateway.node.web import PREFIX as WEB_PREFIX
from gateway.node.web import build_web_app
from gateway.protocol.courier import MAX_BUNDLE_BYTES
from gateway.protocol.errors import (
    Forbidden,
    Malformed,
    NotFound,
    PayloadTooLarge,
    StorageError,
    Unauthorized,
    WrongDestination,
)
from gateway.protocol.localtime import party_zones
from gateway.protocol.messages import MessageType
from gateway.protocol.receipt import verify_receipt
from gateway.protocol.stats import compute_stats, period_of, stats_csv
from gateway.protocol.strict import ascii_decimal, ascii_uint, b64, load_json_object
from gateway.protocol.workflow import WAITING
from gateway.views import payload_json
from gateway.views.render import LANGS, render, render_header

__all__ = ["ROLES", "build_officer_app"]

log = get_logger("officer_api")
USER: web.RequestKey[str] = web.RequestKey("user", str)
ROLE: web.RequestKey[str] = web.RequestKey("role", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


_HEX_ID = re.compile(r"[0-9a-fA-F]{32}")
_TOKEN = re.compile(r"Bearer ([A-Za-z0-9_-]{16,128})")
_OFFICE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_RECIPIENTS = 16
TOKEN_TTL_S = 30.0


def _hex_id(text: str) -> bytes:
    if not _HEX_ID.fullmatch(text):
        raise Malformed("a message id is 32 hex digits")
    return bytes.fromhex(text)


def _query(request: web.Request, *allowed: str) -> dict[str, str]:
    """The query parameters, each at most once and each one this route takes."""
    out: dict[str, str] = {}
    for key, value in request.query.items():
        if key not in allowed:
            raise Malformed(f"unknown query parameter; this request takes "
                            f"{', '.join(allowed) or 'none'}")
        if key in out:
            raise Malformed(f"query parameter {key} given twice")
        out[key] = value
    return out


def _offices(value: object) -> list[str]:
    if (not isinstance(value, list) or not 0 < len(value) <= MAX_RECIPIENTS
            or not all(isinstance(t, str) and _OFFICE.fullmatch(t) for t in value)):
        raise Malformed(f'"to" must be a list of 1 to {MAX_RECIPIENTS} office ids')
    if len(set(value)) != len(value):
        raise Malformed('"to" names an office twice')
    return list(value)


async def _json_object(request: web.Request, *fields: str) -> dict[str, Any]:
    """The request's JSON object body (empty body: ``{}``); size bounded by the app's
    ``client_max_size``, depth bounded before parsing."""
    body = await request.read()
    if not body.strip():
        return {}
    return load_json_object(body, allowed=frozenset(fields))


def _host_allowed(host: str, api_host: str) -> bool:
    """A loopback name or address, or the configured listen address (port ignored)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if not name:
        return False
    if name in ("localhost", api_host.lower()):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def build_officer_app(gw: OfficerHost) -> web.Application:
    # Who has logged in since start (for the audit log's user.login), by token hash.
    seen: dict[str, bytes] = {}
    # Tokens looked up, by hash: valid until the users stamp changes (every ``users`` and
    # ``tokens`` command replaces it: one stat per request notices) and at most TOKEN_TTL_S
    # (for changes made to the database any other way). Unknown tokens are never cached.
    known: dict[bytes, tuple[tuple[str, str], float]] = {}
    stamp: list[object] = [gw.users_changed()]
    # The token lookup is a read: it runs on its own threads, not in the queue of the store's
    # writer thread, so a request does not wait for the group commit before its own.
    readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="officer-auth")
    keyed = KeyedRequests(gw.store)  # Idempotency-Key on the requests that create messages

    async def user_for_token(token: str) -> tuple[str, str] | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(readers, gw.store.sync.user_for_token, token)
        except SQLAlchemyError as e:
            raise StorageError(f"the store refused the operation ({type(e).__name__})") from e

    async def stop_readers(_: web.Application) -> None:
        readers.shutdown(wait=True)

    @web.middleware
    async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if not _host_allowed(host, gw.config.api_host):
            raise WrongDestination("this officer API answers only to its own address "
                                   "(a loopback name or address, or api_host in "
                                   "gateway.toml) in the Host header")
        return await handler(request)

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        if header is None and request.path == "/health":
            return await handler(request)
        if request.path.startswith(WEB_PREFIX):  # the web app: its own sessions and CSRF
            return await handler(request)
        m = _TOKEN.fullmatch(header or "")
        if m is None:
            raise Unauthorized("send Authorization: Bearer <token>")
        token = m.group(1)
        digest = hashlib.sha256(token.encode("ascii")).digest()
        mark, now = gw.users_changed(), time.monotonic()
        if mark != stamp[0] or len(known) > 1000:
            known.clear()
            stamp[0] = mark
        hit = known.get(digest)
        if hit is not None and hit[1] > now:
            user = hit[0]
        else:
            found = await user_for_token(token)
            if found is None:
                known.pop(digest, None)
                raise Unauthorized("unknown, revoked or disabled token")
            user = found
            if gw.users_changed() == mark:  # not when a change raced the lookup
                known[digest] = (user, now + TOKEN_TTL_S)
        if seen.get(user[0]) != digest:
            await gw.store.call(gw.store.sync.audit, [{"t": gw.clock.now_ms(),
                                                       "type": "user.login", "user": user[0]}])
            gw.metrics.signins.labels(user[1]).inc()
            if len(seen) > 10_000:
                seen.clear()
            seen[user[0]] = digest
        request[USER], request[ROLE] = user
        return await handler(request)

    def need(request: web.Request, *roles: str) -> str:
        if request[ROLE] not in (*roles, "admin"):
            raise Forbidden(f"role {request[ROLE]} may not do this")
        return request[USER]

    async def submit(request: web.Request) -> web.Response:
        user = need(request, "officer", "border_guard")
        lang = _lang(_query(request, "lang"))  # the language of a payload error
        data = await _json_object(request, "to", "payload")
        to = _offices(data.get("to"))
        payload = payload_json.parse(data.get("payload"), lang)
        if request[ROLE] != "admin" and not may_send(request[ROLE], payload.message_type):
            raise Forbidden(f"role {request[ROLE]} does not send a {payload.message_type.slug}")
        return await keyed.run(
            request, user, lambda idem: gw.submit(payload, to, user=user, idempotency=idem),
            lambda mid: {"message_id": mid.hex(), "state": "queued", "to": to,
                         "type": payload.message_type.slug}, 201)

    async def status(request: web.Request) -> web.Response:
        need(request, "officer", "supervisor", "auditor")
        _query(request)
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
                                     now_ms=gw.clock.now_ms(),
                                     stored_at_ms=d["delivered_at_ms"])
                item["receipt"] = {"received_at_ms": rec.received_at_ms,
                                   "signed_by": rec.signer_key_id, "verified": True,
                                   "suite": rec.suite,
                                   "raw": base64.b64encode(rec.raw).decode("ascii")}
            deliveries.append(item)
        return web.json_response({
            "message_id": mid.hex(), "type": MessageType(env["message_type"]).slug,
            "created_at_ms": env["created_at_ms"], "case_reference": env["case_reference"],
            "envelope_sha256": env["sha256"].hex(), "deliveries": deliveries})

    async def outgoing(request: web.Request) -> web.Response:
        need(request, "officer", "supervisor", "auditor")
        rows = await gw.store.call(gw.store.sync.list_outgoing,
                                   _limit(_query(request, "limit")), gw.office_id)
        return web.json_response({"messages": [
            {"message_id": r["message_id"].hex(), "type": MessageType(r["message_type"]).slug,
             "to": r["recipients"].split(","), "created_at_ms": r["created_at_ms"],
             "case_reference": r["case_reference"], "states": r["states"]} for r in rows]})

    async def inbox_list(request: web.Request) -> web.Response:
        need(request, "officer", "supervisor", "auditor")
        rows = await gw.store.call(gw.store.sync.list_inbox, _limit(_query(request, "limit")))
        return web.json_response({"messages": [
            {"message_id": r["message_id"].hex(), "from": r["sender"],
             "type": MessageType(r["message_type"]).slug, "created_at_ms": r["created_at_ms"],
             "received_at_ms": r["received_at_ms"], "case_reference": r["case_reference"],
             "priority": r["priority"], "handling_code": r["handling_code"],
             "deadline_ms": r["deadline_ms"] or None, "opened_at_ms": r["opened_at_ms"],
             "opened_by": r["opened_by"]} for r in rows], "time_zone": gw.zone.key})

    async def inbox_open(request: web.Request) -> web.Response:
        user = need(request, "officer", "border_guard", "supervisor")
        mid = _hex_id(request.match_info["id"])
        lang = _lang(_query(request, "lang"))
        env, payload = await records.open_received(
            gw, mid, user, role="" if request[ROLE] == "admin" else request[ROLE])
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
        need(request, "officer", "supervisor", "auditor")
        q = _query(request, "limit", "overdue", "due_hours")
        only_overdue = q.get("overdue", "0")
        if only_overdue not in ("0", "1"):
            raise Malformed("overdue must be 0 or 1")
        hours = (ascii_decimal(q["due_hours"], what="due_hours", hi=24 * 366)
                 if "due_hours" in q else None)
        now = gw.clock.now_ms()
        rows = await gw.store.call(gw.store.sync.cases, limit=_limit(q))
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
            if only_overdue == "1" and not item["overdue"]:
                continue
            if hours is not None and not (waiting and
                                          r["deadline_ms"] < now + hours * 3600_000):
                continue
            out.append(item)
        return web.json_response({"now_ms": now, "cases": out, "time_zone": gw.zone.key})

    async def figures_for(request: web.Request, q: dict[str, str]) -> dict[str, Any]:
        need(request, "officer", "supervisor", "auditor")
        p = period_of(q, gw.zone)  # in this office's time zone
        items = await gw.store.call(gw.store.sync.cases_between, p.start_ms, p.end_ms)
        return compute_stats(items, office=gw.office_id, start_ms=p.start_ms, end_ms=p.end_ms,
                             now_ms=gw.clock.now_ms(), zone=gw.zone, period=p.name)

    async def stats(request: web.Request) -> web.Response:
        q = _query(request, "period", "from", "to", "format")
        if q.get("format", "json") not in ("json", "csv"):
            raise Malformed("format must be json or csv")
        figures = await figures_for(request, q)
        if q.get("format") == "csv":
            return web.Response(text=stats_csv(figures), content_type="text/csv")
        return web.json_response(figures)

    async def record(request: web.Request) -> web.StreamResponse:
        """A handover record with both sides' signatures (``/pdf`` for the printable form)."""
        need(request, "officer", "border_guard", "supervisor")
        mid = _hex_id(request.match_info["id"])
        lang = _lang(_query(request, "lang"))
        view = await records.open_record(gw, mid, request[USER])
        if request.path.endswith("/pdf"):
            pdf = await asyncio.to_thread(records.record_pdf, gw, view)  # seconds: a thread
            return web.Response(body=pdf, content_type="application/pdf")
        return web.json_response({
            "message_id": view["message_id"], "parties": view["parties"],
            "complete": view["complete"], "payload": view["payload"].to_dict(),
            "signatures": {o: {"key_id": s.key_id, "fingerprint": s.fingerprint,
                               "verified": s.verified, "problem": s.problem}
                           for o, s in view["signatures"].items()},
            "text": render(view["payload"], lang)})

    async def countersign(request: web.Request) -> web.Response:
        user = need(request, "officer", "border_guard")
        mid = _hex_id(request.match_info["id"])
        _query(request)
        await _json_object(request)
        return await keyed.run(
            request, user, lambda idem: records.countersign(gw, mid, user=user, idempotency=idem),
            lambda ack: {"record": mid.hex(), "signature_message_id": ack.hex()}, 201)

    async def stats_pdf(request: web.Request) -> web.Response:
        figures = await figures_for(request, _query(request, "period", "from", "to"))
        return web.Response(body=records.stats_pdf(figures), content_type="application/pdf")

    async def forward(request: web.Request) -> web.Response:
        """Forward a received message to other offices, within its handling code and the
        person's consent; the copy is a new message from this office."""
        user = need(request, "officer")
        mid = _hex_id(request.match_info["id"])
        _query(request)
        to = _offices((await _json_object(request, "to")).get("to"))
        return await keyed.run(request, user,
                               lambda idem: records.forward(gw, mid, to, user=user,
                                                            idempotency=idem),
                               lambda new: {"forwarded": mid.hex(), "message_id": new.hex(),
                                            "to": to}, 201)

    async def install_directory(request: web.Request) -> web.Response:
        """Admin only: install a newer co-signed directory (the body, verbatim) without a
        restart; see gateway/node/trust.py for the checks."""
        user = need(request)
        d, previous, changed = await gw.trust.install(await request.read(),
                                                      source=f"officer:{user}")
        return web.json_response({"serial": d.serial, "previous_serial": previous,
                                  "installed": changed, "expires_at_ms": d.expires_at_ms,
                                  "revoked_keys": sorted(d.revoked)})

    async def courier_export(request: web.Request) -> web.Response:
        """Admin only: the next courier bundle for a peer (``gateway.node.courier``)."""
        need(request)
        _query(request)
        data = await _json_object(request, "to", "max_bytes")
        to = data.get("to")
        if not isinstance(to, str) or not _OFFICE.fullmatch(to):
            raise Malformed('"to" must be the office id of a peer')
        limit = data.get("max_bytes", MAX_BUNDLE_BYTES)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise Malformed('"max_bytes" must be a positive integer')
        bundle, summary = await courier.export_bundle(gw, to, max_bytes=limit)
        return web.Response(body=bundle, content_type="application/octet-stream",
                            headers={"BLO-Courier": json.dumps(summary, sort_keys=True)})

    async def courier_import(request: web.Request) -> web.Response:
        """Admin only: import a courier bundle (the body, verbatim, read under its limit)."""
        need(request)
        _query(request)
        declared = request.content_length
        if declared is not None and declared > MAX_BUNDLE_BYTES:
            raise PayloadTooLarge(f"bundle over {MAX_BUNDLE_BYTES} bytes")
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(1 << 20):
            size += len(chunk)
            if size > MAX_BUNDLE_BYTES:
                raise PayloadTooLarge(f"bundle over {MAX_BUNDLE_BYTES} bytes")
            chunks.append(chunk)
        return web.json_response(await courier.import_bundle(gw, b"".join(chunks)))

    async def install_roots(request: web.Request) -> web.Response:
        """Admin only: a root rotation with the first directory its new roots signed."""
        user = need(request)
        _query(request)
        body = await _json_object(request, "root_set", "directory")
        if not all(isinstance(body.get(k), str) for k in ("root_set", "directory")):
            raise Malformed('"root_set" and "directory" are both required, in base64')
        d, previous, changed = await gw.trust.install(
            b64(body["directory"], "directory"), source=f"officer:{user}",
            root_set=b64(body["root_set"], "root_set"))
        return web.json_response({"serial": d.serial, "previous_serial": previous,
                                  "installed": changed, "roots_version": gw.roots.version,
                                  "revoked_keys": sorted(d.revoked)})

    async def health(request: web.Request) -> web.Response:
        _query(request)
        full = await gw.health()
        if USER not in request:  # no token: whether it is up, nothing about peers or backlog
            return web.json_response({"status": full["status"]})
        return web.json_response(full)

    async def metrics(request: web.Request) -> web.Response:
        """Prometheus text format (``gateway.node.metrics``); auditor or admin."""
        need(request, "auditor")
        _query(request)
        return web.Response(body=await gw.metrics_text(),
                            headers={"Content-Type": CONTENT_TYPE})

    app = web.Application(middlewares=[error_middleware, host_middleware, auth_middleware],
                          client_max_size=gw.config.max_envelope_bytes)
    app.on_cleanup.append(stop_readers)
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
    app.router.add_post("/api/v1/courier/export", courier_export)
    app.router.add_post("/api/v1/courier/import", courier_import)
    app.router.add_put("/api/v1/roots", install_roots)
    app.router.add_get("/health", health)
    app.add_subapp(WEB_PREFIX, build_web_app(gw))
    app.router.add_get("/metrics", metrics)
    return app


def _limit(query: dict[str, str]) -> int:
    return ascii_uint(query.get("limit", "100"), what="limit", lo=1, hi=1000)


def _lang(query: dict[str, str]) -> str:
    lang = query.get("lang", "both")
    if lang not in LANGS:
        raise Malformed(f"lang must be one of {', '.join(LANGS)}")
    return lang
