"""What both HTTP apps share: the error middleware (limits are in ``gateway.node.guard``).

Every error leaves as ``{"code": ..., "message": ...}`` with the status of its
``GatewayError`` class; a third-party exception never reaches the client (it is
logged by type and answered as ``INTERNAL``). A 503 or 507 carries ``Retry-After``. An
error answered before the request body was read closes the connection, so an unread body
is never drained.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.node.guard import ConnectionGuard
from gateway.node.logs import get_logger
from gateway.protocol.errors import GatewayError, RateLimited

__all__ = ["error_middleware", "guard_middleware", "json_error"]

log = get_logger("web")
#: Retry-After of a 503/507 answer, seconds.
RETRY_AFTER_S = 2
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, code: str, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


_HTTP_CODES = {400: "MALFORMED", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RateLimited as e:
        retry = str(max(1, math.ceil(e.retry_after)))
        resp = json_error(e.http_status, e.code, e.message, {"Retry-After": retry})
    except GatewayError as e:
        if e.http_status >= 500:
            log.error("request_failed", path=request.path, code=e.code)
        # 503 (store or directory unavailable, busy) and 507 (disk full) are temporary: say
        # when to come back, so that clients and peers retry instead of giving up.
        later = {"Retry-After": str(RETRY_AFTER_S)} if e.http_status in (503, 507) else None
        resp = json_error(e.http_status, e.code, e.message, later)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "HTTP_ERROR")
        resp = json_error(e.status, code, e.reason)
    except Exception as e:  # noqa: BLE001 - never leak a library's message
        log.error("internal_error", path=request.path, error=type(e).__name__)
        resp = json_error(500, "INTERNAL", "internal error; see the gateway log")
    if not request.content.at_eof():
        resp.force_close()
    return resp


def guard_middleware(guard: ConnectionGuard) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Tell the connection guard when a request is being handled (not idle, not slow)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        guard.request_started(transport)
        try:
            return await handler(request)
        finally:
            guard.request_finished(transport)

    return middleware
