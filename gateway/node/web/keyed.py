"""One idempotency key per web form that creates a message (an action on a message, a step of a
handover): the officer API's ``Idempotency-Key`` (``gateway.node.idempotency``) for a browser.

Each such form carries a hidden ``idem`` field, a fresh random key made when the page is
rendered. Posting the form twice (a double click, a reload, a retry after a lost answer)
creates one message: the second post is answered as the first (the same redirect); the same
key with other fields is refused (422 ``IDEMPOTENCY_KEY_REUSED``). The request is remembered
as the form's path and fields (without the CSRF token), HMAC'd under the key, like the API's.
A form without a key is refused (400 ``BAD_IDEMPOTENCY_KEY``): every page that shows such a
form puts one in.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import nacl.utils
from aiohttp import web

from gateway.node.idempotency import KeyedRequests, parse_key
from gateway.protocol.errors import BadIdempotencyKey
from gateway.store import IdempotentAnswer

__all__ = ["FIELD", "new_key", "run"]

FIELD = "idem"
Create = Callable[[Callable[[bytes], IdempotentAnswer] | None], Awaitable[bytes]]


def new_key() -> str:
    """A fresh key for one rendering of a form (22 URL-safe characters, 128 random bits)."""
    return base64.urlsafe_b64encode(nacl.utils.random(16)).decode("ascii").rstrip("=")


async def run(keyed: KeyedRequests, request: web.Request, user: str,
              create: Create) -> tuple[bytes, bool]:
    """Create the form's message under its key: (message id, whether it was a replay)."""
    form = await request.post()
    raw = form.get(FIELD)
    key = parse_key(raw if isinstance(raw, str) else None)
    if key is None:
        raise BadIdempotencyKey("the form has no idempotency key; reload the page")
    fields = sorted((k, v) for k, v in form.items() if k != "csrf" and isinstance(v, str))
    parts = [request.method.encode(), request.path.encode(),
             *(f"{k}={v}".encode() for k, v in fields)]

    def answer(mid: bytes) -> dict[str, Any]:
        return {"message_id": mid.hex()}

    got = await keyed.once(user, key, parts, create, answer, 201)
    return got.message_id, got.replayed
