"""The peer API (gateway ↔ gateway), kept apart from the officer API.

Routes (all authenticated per ``gateway.protocol.peerauth`` (version 1) or
``gateway.protocol.httpsig`` (version 2, RFC 9421); docs/wire-format.md §11, §15):

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
digest (``BLO-Body-SHA256``, or for version 2 ``Content-Digest``), the rate limit of the
*authenticated* origin, and only then the body, streamed under the size limit and a read
timeout and compared with the signed digest; then the nonce (replay). A version-1 request
between two offices whose required suite is 2 is refused ``DOWNGRADE`` (except the three
reads whose answers carry no authority of their own: ping, directory, roots). Every answer
to an authenticated version-2 request is signed (``sign_answers``, RFC 9421 response
signature bound to the request's signature). Then each envelope, by
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
from gateway.node.http import Handler, error_middleware
from gateway.node.logs import get_logger
from gateway.node.ports import PeerApiHost
from gateway.node.reception import receive_envelopes
from gateway.node.redelivery import PATH as REDELIVER_PATH
from gateway.node.redelivery import parse_request
from gateway.node.trust import DIRECTORY_PATH, ROOTS_PATH
from gateway.node.witness import add_checkpoint
from gateway.protocol import envelope, httpsig, strict
from gateway.protocol.errors import (
    AddressBlocked,
    Busy,
    Downgrade,
    GatewayError,
    Malformed,
    NotFound,
    PayloadTooLarge,
    Replay,
    RequestTimeout,
    status_for,
)
from gateway.protocol.identity import SUITE_2
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
#: set on a request whose version-2 headers verified: its answer is signed (a RequestKey
#: where aiohttp has them, 3.14 on; a plain string before)
V2_KEY: Any = (web.RequestKey("v2_request", httpsig.V2Request)
               if hasattr(web, "RequestKey") else "blo_httpsig_request")
#: reads a version-1 sender may still make of a suite-2 peer: their answers carry no
#: authority (a ping's answer is unsigned in version 1; the directory and roots are
#: root-signed), and they are how a gateway holding an older directory learns the new one
_V1_READS = frozenset({"/peer/v1/ping", "/peer/v1/directory", "/peer/v1/roots"})


def build_peer_app(gw: PeerApiHost, guard: ConnectionGuard | None = None) -> web.Application:
    cfg = gw.config

    @web.middleware
    async def sign_answers(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sign every answer to an authenticated version-2 request (errors too: a 429's
        Retry-After is only believed signed)."""
        resp = await handler(request)
        v2 = request.get(V2_KEY)
        if isinstance(v2, httpsig.V2Request) and isinstance(resp, web.Response):
            body = resp.body if isinstance(resp.body, bytes) else b""
            try:
                resp.headers.update(httpsig.sign_response(
                    gw.keyring, status=resp.status, body=body,
                    request_ed_signature=v2.ed_signature, now_ms=gw.clock.now_ms()))
            except GatewayError as e:  # no valid ML-DSA key: the sender ignores the answer
                log.error("answer_not_signed", code=e.code)
        return resp

    app = web.Application(middlewares=[sign_answers, error_middleware,
                                       gw.trust.middleware()],
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
        v2_claimed = httpsig.is_v2(request.headers)
        if blocked and BODY_HEADER not in request.headers and not v2_claimed:
            raise _blocked(remote)
        now = gw.clock.now_ms()
        v2: httpsig.V2Request | None = None
        try:
            if request.headers.get("Content-Encoding", "identity") != "identity":
                raise Malformed("Content-Encoding is not accepted on the peer API")
            declared = request.content_length
            if declared is not None and declared > cfg.max_request_bytes:
                raise PayloadTooLarge(f"request body over {cfg.max_request_bytes} bytes")
            if v2_claimed:  # version 2 (RFC 9421): path and query exactly as sent
                path, _, query = request.raw_path.partition("?")
                v2 = httpsig.check_headers(request.headers, method=request.method, path=path,
                                           query=query, directory=gw.directory,
                                           me=gw.office_id, now_ms=now,
                                           max_skew_ms=cfg.max_skew_ms)
                auth, body = v2.auth, None
            elif BODY_HEADER in request.headers:
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
            if (v2 is None and not (request.method == "GET" and request.path in _V1_READS)
                    and gw.directory.required_suite(auth.origin, gw.office_id) >= SUITE_2):
                raise Downgrade(f"{auth.origin} and {gw.office_id} both accept suite 2: "
                                "sign requests as version 2 (RFC 9421, wire-format §15)")
        except GatewayError:
            failures.fail(remote)
            if blocked:
                raise _blocked(remote) from None
            raise
        if v2 is not None:
            request[V2_KEY] = v2
        limiter.take(auth.origin)
        if body is None:
            body = await read_body(request)
            if v2 is not None:
                httpsig.check_body(v2, body)
            else:
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
