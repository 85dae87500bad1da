"""The peer API (gateway ↔ gateway), kept apart from the officer API.

Routes (all authenticated per ``gateway.protocol.peerauth``):

* ``POST /peer/v1/envelopes`` — a batch (u32be length ‖ envelope, repeated); answers
  ``{"results": [...]}``, one entry per envelope in order: ``{"status":
  "accepted"|"duplicate", "message_id", "receipt"}`` or ``{"code", "message"}``.
* ``PUT /peer/v1/envelopes/{sender}/{message_id}`` — one envelope; the path must name
  the sender and message id of the signed header.
* ``GET /peer/v1/ping[?directory_serial=N]`` — reachability, clock and the trust directory
  serials: ``{"office", "time_ms", "directory_serial"}``; a higher serial either way makes
  the other side fetch the directory (``gateway.node.trust``).
* ``GET /peer/v1/directory`` — the co-signed trust directory we hold, verbatim.
* ``GET /peer/v1/roots`` — the root set (``SignedTrustRoots``) that put our trust roots in
  place, verbatim; 404 if they were never rotated (docs/wire-format.md §3.3).
* ``POST /peer/v1/redeliver`` — ``{"since_ms": N}`` from a peer restored from a backup: we
  queue again what we delivered to it since then (``gateway.node.redelivery``); answers
  ``{"requeued": n}``.

While our trust directory has expired every route answers 503 ``DIRECTORY_EXPIRED``.

Order of checks per request (``authenticate``): the remote address's budget for
failed requests, the declared size, the signature headers over the signed body
digest (``BLO-Body-SHA256``), the rate limit of the *authenticated* origin, and only
then the body, streamed under the size limit and a read timeout and compared with
the signed digest; then the nonce (replay). Then each envelope, by
``gateway.node.reception`` (which courier bundles go through too): verify (signature
before parsing), the sender must be the authenticated origin, we must be a recipient,
then dedupe and store, and only then a signed receipt. Connections are capped and timed
out by ``gateway.node.guard.ConnectionGuard`` before any of this.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from gateway.node.delivery import parse_batch
from gateway.node.guard import AddressLimiter, ConnectionGuard, TokenBucket, address_key
from gateway.node.http import error_middleware
from gateway.node.logs import get_logger
from gateway.node.ports import PeerApiHost
from gateway.node.reception import receive_envelopes
from gateway.node.redelivery import PATH as REDELIVER_PATH
from gateway.node.redelivery import parse_request
from gateway.node.trust import DIRECTORY_PATH, ROOTS_PATH
from gateway.node.witness import add_checkpoint
from gateway.protocol import envelope, strict
from gateway.protocol.errors import (
    AddressBlocked,
    Busy,
    GatewayError,
    Malformed,
    NotFound,
    PayloadTooLarge,
    Replay,
    RequestTimeout,
    status_for,
)
from gateway.protocol.peerauth import (
    BODY_HEADER,
    AuthenticatedRequest,
    body_digest,
    check_body,
    check_headers,
    verify_request,
)

__all__ = ["GATEWAY_KEY", "LIMITS_KEY", "Limits", "build_peer_app"]

log = get_logger("peer_api")

GATEWAY_KEY: web.AppKey[PeerApiHost] = web.AppKey("gateway")
MAX_BATCH = 256
_DIGITS = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class Limits:
    """The peer app's limiters, exposed for /health and tests."""

    per_origin: TokenBucket
    per_address_failures: AddressLimiter
    connections: ConnectionGuard | None


LIMITS_KEY: web.AppKey[Limits] = web.AppKey("limits")


def build_peer_app(gw: PeerApiHost, guard: ConnectionGuard | None = None) -> web.Application:
    cfg = gw.config
    app = web.Application(middlewares=[error_middleware, gw.trust.middleware()],
                          client_max_size=cfg.max_request_bytes)
    app[GATEWAY_KEY] = gw
    limiter = TokenBucket(cfg.peer_rate, cfg.peer_burst)  # per authenticated origin
    failures = AddressLimiter(cfg.preauth_failure_rate, cfg.preauth_failure_burst)
    unauthenticated_reads = asyncio.Semaphore(cfg.unauthenticated_reads)
    app[LIMITS_KEY] = Limits(limiter, failures, guard)

    def _blocked(remote: str | None) -> AddressBlocked:
        """An address over its failure budget still gets its header-signed requests checked
        (a real peer behind the same address as an attacker keeps working); everything
        else is refused before any other work."""
        return AddressBlocked("too many failed requests from this address", retry_after=max(
            1.0, failures.retry_after(address_key(remote))))

    async def read_body(request: web.Request) -> bytes:
        """The body, streamed under the size limit and the read timeout."""
        limit = cfg.max_request_bytes
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(cfg.body_timeout_s):
                async for chunk in request.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"request body over {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeout(f"request body not received within {cfg.body_timeout_s} s")\
                from None
        except (aiohttp.ClientPayloadError, ConnectionError) as e:
            raise Malformed(f"request body could not be read: {type(e).__name__}") from None
        return b"".join(chunks)

    async def authenticate(request: web.Request, *,
                           nonce_later: bool = False) -> tuple[AuthenticatedRequest, bytes]:
        """Authenticate from the headers, and only then read the body.

        Order: the remote address's budget for failures, the declared size, the
        signature headers (over the signed body digest), the per-origin rate limit,
        then the body, hashed as it streams and compared with the signed digest. The
        nonce is recorded here, or (for envelopes) in the same transaction that stores
        them, saving a commit."""
        remote = request.remote
        blocked = failures.blocked(remote)
        if blocked and BODY_HEADER not in request.headers:
            raise _blocked(remote)
        now = gw.clock.now_ms()
        try:
            if request.headers.get("Content-Encoding", "identity") != "identity":
                raise Malformed("Content-Encoding is not accepted on the peer API")
            declared = request.content_length
            if declared is not None and declared > cfg.max_request_bytes:
                raise PayloadTooLarge(f"request body over {cfg.max_request_bytes} bytes")
            if BODY_HEADER in request.headers:
                auth = check_headers(request.headers, method=request.method,
                                     path_qs=request.path_qs, body_sha256=None,
                                     directory=gw.directory, me=gw.office_id, now_ms=now,
                                     max_skew_ms=cfg.max_skew_ms)
                body = None
            else:  # an older sender: the body must be read before the signature is known
                if unauthenticated_reads.locked():
                    raise Busy("too many unauthenticated requests in progress")
                async with unauthenticated_reads:
                    body = await read_body(request)
                auth = verify_request(request.headers, method=request.method,
                                      path_qs=request.path_qs, body=body,
                                      directory=gw.directory, me=gw.office_id, now_ms=now,
                                      max_skew_ms=cfg.max_skew_ms)
        except GatewayError:
            failures.fail(remote)
            if blocked:
                raise _blocked(remote) from None
            raise
        limiter.take(auth.origin)
        if body is None:
            body = await read_body(request)
            check_body(request.headers, body_digest(body))
        if not nonce_later:
            fresh = await gw.store.call(gw.store.sync.remember_nonce, auth.origin, auth.nonce,
                                        now_ms=now, expires_ms=now + 2 * cfg.max_skew_ms)
            if not fresh:
                raise Replay("this request was already received (same nonce)")
        await gw.peer_seen(auth.origin, now, auth.timestamp_ms - now)
        return auth, body

    async def receive(auth: AuthenticatedRequest, blobs: list[bytes]) -> list[dict[str, Any]]:
        return await receive_envelopes(gw, auth.origin, blobs, nonce=auth.nonce)

    async def post_batch(request: web.Request) -> web.Response:
        auth, body = await authenticate(request, nonce_later=True)
        blobs = parse_batch(body, MAX_BATCH)
        return web.json_response({"results": await receive(auth, blobs)})

    async def put_one(request: web.Request) -> web.Response:
        auth, body = await authenticate(request, nonce_later=True)
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
        auth, _ = await authenticate(request)
        offered = request.query.get("directory_serial", "")
        if offered:  # the serial of the directory the pinging peer holds (signed query)
            gw.trust.offered(auth.origin, strict.uint(offered, "directory_serial",
                                                      max_digits=18))
        return web.json_response({"office": gw.office_id, "time_ms": gw.clock.now_ms(),
                                  "directory_serial": gw.directory.serial})

    async def directory(request: web.Request) -> web.Response:
        """The co-signed directory we hold, verbatim (peers verify it against the roots)."""
        await authenticate(request)
        return web.Response(body=gw.directory.signed_bytes,
                            content_type="application/octet-stream",
                            headers={"BLO-Directory-Serial": str(gw.directory.serial)})

    async def roots(request: web.Request) -> web.Response:
        """The root set of the roots we hold (peers check it against their own roots)."""
        await authenticate(request)
        if gw.trust.root_set is None:
            raise NotFound("the trust roots here were never rotated")
        return web.Response(body=gw.trust.root_set, content_type="application/octet-stream")

    async def witness(request: web.Request) -> web.Response:
        auth, body = await authenticate(request)
        ans = await add_checkpoint(gw, auth.origin, body)
        return web.Response(status=ans.status, text=ans.body, content_type=ans.content_type)

    async def audit_checkpoint(request: web.Request) -> web.Response:
        await authenticate(request)
        latest = await gw.store.call(gw.store.sync.latest_checkpoint)
        if latest is None:
            raise NotFound("no checkpoint yet")
        return web.Response(text=latest["note"], content_type="text/plain")

    def _int(request: web.Request, name: str) -> int:
        v = request.query.get(name, "")
        if not _DIGITS.fullmatch(v):
            raise Malformed(f"query parameter {name} must be a number")
        return int(v)

    async def audit_consistency(request: web.Request) -> web.Response:
        await authenticate(request)
        old, new = _int(request, "old"), _int(request, "new")
        size, _ = await gw.store.call(gw.store.sync.audit_head)
        if not 0 < old <= new <= size:
            raise Malformed(f"need 0 < old <= new <= {size}")
        proof = await gw.store.call(gw.store.sync.audit_consistency, old, new)
        return web.Response(text="".join(base64.b64encode(p).decode() + "\n" for p in proof))

    async def audit_inclusion(request: web.Request) -> web.Response:
        await authenticate(request)
        index, size = _int(request, "index"), _int(request, "size")
        head, _ = await gw.store.call(gw.store.sync.audit_head)
        if not index < size <= head:
            raise Malformed(f"need index < size <= {head}")
        leaf, proof = await gw.store.call(gw.store.sync.audit_inclusion, index, size)
        return web.json_response({"index": index, "size": size, "leaf": leaf.decode("ascii"),
                                  "proof": [base64.b64encode(p).decode() for p in proof]})

    async def redeliver(request: web.Request) -> web.Response:
        """A restored peer lost what we delivered since ``since_ms``: queue it again."""
        auth, body = await authenticate(request)
        now = gw.clock.now_ms()
        since = parse_request(body, now)
        n = await gw.store.call(gw.store.sync.requeue_delivered, auth.origin, since, now)
        link = gw.deliveries.get(auth.origin)
        if link is not None:
            link.wake.set()
        log.warning("redelivery_requested", origin=auth.origin, since_ms=since, requeued=n)
        return web.json_response({"requeued": n})

    app.router.add_post(REDELIVER_PATH, redeliver)
    app.router.add_post("/peer/v1/witness/add-checkpoint", witness)
    app.router.add_get("/peer/v1/audit/checkpoint", audit_checkpoint)
    app.router.add_get("/peer/v1/audit/consistency", audit_consistency)
    app.router.add_get("/peer/v1/audit/inclusion", audit_inclusion)
    app.router.add_post("/peer/v1/envelopes", post_batch)
    app.router.add_put("/peer/v1/envelopes/{sender}/{message_id}", put_one)
    app.router.add_get("/peer/v1/ping", ping)
    app.router.add_get(DIRECTORY_PATH, directory)
    app.router.add_get(ROOTS_PATH, roots)
    return app
