"""The peer API (gateway ↔ gateway), kept apart from the officer API.

Routes (all authenticated per ``gateway.peerauth``):

* ``POST /peer/v1/envelopes`` — a batch (u32be length ‖ envelope, repeated); answers
  ``{"results": [...]}``, one entry per envelope in order: ``{"status":
  "accepted"|"duplicate", "message_id", "receipt"}`` or ``{"code", "message"}``.
* ``PUT /peer/v1/envelopes/{sender}/{message_id}`` — one envelope; the path must name
  the sender and message id of the signed header.
* ``GET /peer/v1/ping[?directory_serial=N]`` — reachability, clock and the trust directory
  serials: ``{"office", "time_ms", "directory_serial"}``; a higher serial either way makes
  the other side fetch the directory (``gateway.trust``).
* ``GET /peer/v1/directory`` — the co-signed trust directory we hold, verbatim.

While our trust directory has expired every route answers 503 ``DIRECTORY_EXPIRED``.

Order of checks per request: size limit (aiohttp ``client_max_size``), rate limit
by claimed origin, signature headers, nonce (replay), then each envelope:
verify (signature before parsing), the sender must be the authenticated origin,
we must be a recipient, then dedupe and store, and only then a signed receipt.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway import envelope
from gateway.delivery import parse_batch
from gateway.errors import (
    BadSignature,
    GatewayError,
    Malformed,
    NotARecipient,
    NotFound,
    Replay,
    status_for,
)
from gateway.logs import get_logger
from gateway.peerauth import AuthenticatedRequest, verify_request
from gateway.receipt import make_receipt
from gateway.store import Incoming
from gateway.trust import DIRECTORY_PATH
from gateway.web import TokenBucket, error_middleware
from gateway.witness import add_checkpoint

if TYPE_CHECKING:
    from gateway.service import Gateway

__all__ = ["GATEWAY_KEY", "build_peer_app"]

log = get_logger("peer_api")
GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway")
MAX_BATCH = 256


def build_peer_app(gw: Gateway) -> web.Application:
    app = web.Application(middlewares=[error_middleware, gw.trust.middleware()],
                          client_max_size=gw.config.max_request_bytes)
    app[GATEWAY_KEY] = gw
    limiter = TokenBucket(gw.config.peer_rate, gw.config.peer_burst)

    async def authenticate(request: web.Request, body: bytes, *,
                           nonce_later: bool = False) -> AuthenticatedRequest:
        """Rate limit, then the signature headers; the nonce is recorded here, or (for
        envelopes) in the same transaction that stores them, saving a commit."""
        limiter.take(request.headers.get("BLO-Origin", request.remote or "?"))
        now = gw.clock.now_ms()
        auth = verify_request(request.headers, method=request.method, path_qs=request.path_qs,
                              body=body, directory=gw.directory, me=gw.office_id, now_ms=now,
                              max_skew_ms=gw.config.max_skew_ms)
        if not nonce_later:
            fresh = await gw.store.call(gw.store.sync.remember_nonce, auth.origin, auth.nonce,
                                        now_ms=now, expires_ms=now + 2 * gw.config.max_skew_ms)
            if not fresh:
                raise Replay("this request was already received (same nonce)")
        await gw.peer_seen(auth.origin, now, auth.timestamp_ms - now)
        return auth

    async def receive(auth: AuthenticatedRequest, blobs: list[bytes]) -> list[dict[str, Any]]:
        now = gw.clock.now_ms()
        results: list[dict[str, Any] | None] = []
        accepted: list[tuple[int, Incoming]] = []
        refused: list[dict[str, Any]] = []
        for i, blob in enumerate(blobs):
            try:
                env = envelope.verify(blob, gw.directory, now_ms=now,
                                      max_size=gw.config.max_envelope_bytes)
                h = env.header
                if h.sender != auth.origin:
                    raise BadSignature(f"envelope from {h.sender} relayed by {auth.origin}")
                if gw.office_id not in h.recipient_offices:
                    raise NotARecipient(f"{gw.office_id} is not a recipient")
            except GatewayError as e:
                log.warning("envelope_refused", origin=auth.origin, index=i, code=e.code)
                results.append({"code": e.code, "message": e.message})
                refused.append({"t": now, "type": "envelope.rejected", "peer": auth.origin,
                                "code": e.code,
                                "envelope_sha256": hashlib.sha256(blob).hexdigest()})
                continue
            results.append(None)
            accepted.append((i, Incoming(
                h.message_id, h.sender, h.recipient_offices, int(h.message_type), env.sha256,
                blob, h.created_at_ms, h.expires_at_ms, h.case_reference, h.in_reply_to,
                int(h.priority), int(h.handling_code), h.deadline_ms, h.workflow_step)))
        def sign(inc: Incoming, at_ms: int) -> bytes:
            return make_receipt(gw.keyring, message_id=inc.message_id, sender=inc.sender,
                                envelope_sha256=inc.sha256, received_at_ms=at_ms)

        # One transaction: the request's nonce (a replay fails it whole), the refusals for
        # the audit log, and the accepted envelopes with their receipts.
        stored = await gw.store.call(
            gw.store.sync.receive, [a for _, a in accepted], now_ms=now, sign_receipt=sign,
            me=gw.office_id, nonce=(auth.origin, auth.nonce,
                                    now + 2 * gw.config.max_skew_ms), events=refused)
        if accepted:
            for (i, inc), res in zip(accepted, stored, strict=True):
                if res.status == "invalid":
                    results[i] = {"code": "INVALID_TRANSITION", "message": res.detail}
                elif res.status == "conflict":
                    results[i] = {"code": "CONFLICT", "message":
                                  "this message id was received before with different bytes"}
                    log.warning("envelope_conflict", origin=auth.origin,
                                message_id=inc.message_id.hex())
                else:
                    results[i] = {"status": res.status, "message_id": inc.message_id.hex(),
                                  "receipt": base64.b64encode(res.receipt).decode("ascii")}
            log.info("envelopes_received", origin=auth.origin, count=len(accepted))
        return [r for r in results if r is not None]

    async def post_batch(request: web.Request) -> web.Response:
        body = await request.read()
        auth = await authenticate(request, body, nonce_later=True)
        blobs = parse_batch(body, MAX_BATCH)
        return web.json_response({"results": await receive(auth, blobs)})

    async def put_one(request: web.Request) -> web.Response:
        body = await request.read()
        auth = await authenticate(request, body, nonce_later=True)
        try:
            env = envelope.verify(body, gw.directory, now_ms=gw.clock.now_ms(),
                                  max_size=gw.config.max_envelope_bytes)
        except GatewayError:
            env = None  # reported per envelope below, like in a batch
        if env is not None and (request.match_info["sender"] != env.header.sender
                                or request.match_info["message_id"] != env.header.message_id_hex):
            raise Malformed("the path does not match the signed envelope")
        result = (await receive(auth, [body]))[0]
        return web.json_response(result, status=200 if "status" in result
                                 else status_for(result["code"]))

    async def ping(request: web.Request) -> web.Response:
        auth = await authenticate(request, await request.read())
        offered = request.query.get("directory_serial", "")
        if offered:  # the serial of the directory the pinging peer holds (signed query)
            if not (offered.isascii() and offered.isdigit() and len(offered) <= 18):
                raise Malformed("directory_serial must be a decimal number")
            gw.trust.offered(auth.origin, int(offered))
        return web.json_response({"office": gw.office_id, "time_ms": gw.clock.now_ms(),
                                  "directory_serial": gw.directory.serial})

    async def directory(request: web.Request) -> web.Response:
        """The co-signed directory we hold, verbatim (peers verify it against the roots)."""
        await authenticate(request, await request.read())
        return web.Response(body=gw.directory.signed_bytes,
                            content_type="application/octet-stream",
                            headers={"BLO-Directory-Serial": str(gw.directory.serial)})

    async def witness(request: web.Request) -> web.Response:
        body = await request.read()
        auth = await authenticate(request, body)
        ans = await add_checkpoint(gw, auth.origin, body)
        return web.Response(status=ans.status, text=ans.body, content_type=ans.content_type)

    async def audit_checkpoint(request: web.Request) -> web.Response:
        await authenticate(request, await request.read())
        latest = await gw.store.call(gw.store.sync.latest_checkpoint)
        if latest is None:
            raise NotFound("no checkpoint yet")
        return web.Response(text=latest["note"], content_type="text/plain")

    def _int(request: web.Request, name: str) -> int:
        v = request.query.get(name, "")
        if not v.isdigit() or len(v) > 15:
            raise Malformed(f"query parameter {name} must be a number")
        return int(v)

    async def audit_consistency(request: web.Request) -> web.Response:
        await authenticate(request, await request.read())
        old, new = _int(request, "old"), _int(request, "new")
        size, _ = await gw.store.call(gw.store.sync.audit_head)
        if not 0 < old <= new <= size:
            raise Malformed(f"need 0 < old <= new <= {size}")
        proof = await gw.store.call(gw.store.sync.audit_consistency, old, new)
        return web.Response(text="".join(base64.b64encode(p).decode() + "\n" for p in proof))

    async def audit_inclusion(request: web.Request) -> web.Response:
        await authenticate(request, await request.read())
        index, size = _int(request, "index"), _int(request, "size")
        head, _ = await gw.store.call(gw.store.sync.audit_head)
        if size > head:
            raise Malformed(f"the log has {head} entries")
        leaf, proof = await gw.store.call(gw.store.sync.audit_inclusion, index, size)
        return web.json_response({"index": index, "size": size, "leaf": leaf.decode("ascii"),
                                  "proof": [base64.b64encode(p).decode() for p in proof]})

    app.router.add_post("/peer/v1/witness/add-checkpoint", witness)
    app.router.add_get("/peer/v1/audit/checkpoint", audit_checkpoint)
    app.router.add_get("/peer/v1/audit/consistency", audit_consistency)
    app.router.add_get("/peer/v1/audit/inclusion", audit_inclusion)
    app.router.add_post("/peer/v1/envelopes", post_batch)
    app.router.add_put("/peer/v1/envelopes/{sender}/{message_id}", put_one)
    app.router.add_get("/peer/v1/ping", ping)
    app.router.add_get(DIRECTORY_PATH, directory)
    return app
