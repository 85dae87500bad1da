"""What both HTTP apps share: the error middleware and the per-peer rate limiter.

Every error leaves as ``{"code": ..., "message": ...}`` with the status of its
``GatewayError`` class; a third-party exception never reaches the client (it is
logged by type and answered as ``INTERNAL``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.errors import GatewayError, RateLimited
from gateway.logs import get_logger

__all__ = ["TokenBucket", "error_middleware", "json_error"]

log = get_logger("web")
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
        return json_error(e.http_status, e.code, e.message, {"Retry-After": retry})
    except GatewayError as e:
        if e.http_status >= 500:
            log.error("request_failed", path=request.path, code=e.code)
        return json_error(e.http_status, e.code, e.message)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "HTTP_ERROR")
        return json_error(e.status, code, e.reason)
    except Exception as e:  # noqa: BLE001 - never leak a library's message
        log.error("internal_error", path=request.path, error=type(e).__name__)
        return json_error(500, "INTERNAL", "internal error; see the gateway log")


class TokenBucket:
    """Requests per second per key, with a burst; ``take`` raises RateLimited."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> None:
        now = time.monotonic()
        tokens, last = self._state.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            raise RateLimited(f"too many requests from {key}; slow down",
                              retry_after=(1.0 - tokens) / self.rate)
        self._state[key] = (tokens - 1.0, now)
