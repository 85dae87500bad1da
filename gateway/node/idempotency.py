"""``Idempotency-Key`` on the officer API's creating requests (IETF httpapi draft header).

A client that lost its connection after sending cannot know whether the gateway took the
message; with a key it simply sends the same request again. For one user and one key:

* the first request that succeeds creates its message and stores the answer in the same
  transaction (``gateway.store.idempotency``); a request that fails stores nothing, so the
  key may be used again;
* the same request again (method, path and body byte for byte) gets the stored answer:
  same status, same message id, ``"replayed": true`` and ``Idempotent-Replayed: true``;
* another request under the key is refused: 422 ``IDEMPOTENCY_KEY_REUSED``;
* concurrent requests under one key run one at a time (a lock per user and key here, the
  primary key of the table below), so they make one message.

Keys are opaque: 1 to 255 printable ASCII characters, optionally as a quoted sf-string.
They are stored as SHA-256 and logged as its first 8 hex digits, never in full; the request
is remembered only as an HMAC under the key. Rows are kept ``idempotency_key_hours``
(at least 24) and pruned by the pinger.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from gateway.node.logs import get_logger
from gateway.protocol.errors import BadIdempotencyKey, IdempotencyKeyReused
from gateway.store import AsyncStore, IdempotentAnswer

__all__ = ["HEADER", "REPLAYED_HEADER", "KeyedRequests", "parse_key"]

log = get_logger("idempotency")
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY = 255

#: Makes the message: given the answer factory (None without a key), returns the new id.
Create = Callable[[Callable[[bytes], IdempotentAnswer] | None], Awaitable[bytes]]


def parse_key(value: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header (None without one); ``BadIdempotencyKey``
    unless it is 1 to 255 printable ASCII characters, in double quotes or not."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 0 < len(key) <= MAX_KEY or not all(0x20 < ord(ch) < 0x7F and ch not in '"\\'
                                               for ch in key):
        raise BadIdempotencyKey(f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters "
                                "without quotes or backslashes inside (e.g. a random UUID)")
    return key


class KeyedRequests:
    """Runs creating requests under their keys: replays, refuses a reuse, serialises."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self._locks: dict[tuple[str, bytes], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def _held(self, slot: tuple[str, bytes]) -> AsyncIterator[None]:
        lock, users = self._locks.get(slot, (asyncio.Lock(), 0))
        self._locks[slot] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[slot]
            if users == 1:
                del self._locks[slot]
            else:
                self._locks[slot] = (lock, users - 1)

    async def run(self, request: web.Request, user: str, create: Create,
                  answer: Callable[[bytes], dict[str, Any]], status: int) -> web.Response:
        """Answer ``request``: ``create`` makes the message, ``answer`` its JSON body."""
        key = parse_key(request.headers.get(HEADER))
        if key is None:
            return web.json_response(answer(await create(None)), status=status)
        parts = (request.method.encode(), request.path_qs.encode(), await request.read())
        body, status, replayed = await self.answer(user, key, parts, create, answer, status)
        return web.json_response({**body, "replayed": replayed}, status=status,
                                 headers={REPLAYED_HEADER: "true" if replayed else "false"})

    async def answer(self, user: str, key: str, parts: Sequence[bytes], create: Create,
                     answer: Callable[[bytes], dict[str, Any]], status: int
                     ) -> tuple[dict[str, Any], int, bool]:
        """The answer to a request under ``key`` (already parsed), given as ``parts`` (for
        HTTP: method, path and body; a web form: its fields): (body, status, replayed).
        The officer API's header and the web app's per-form keys both come here."""
        key_sha256 = hashlib.sha256(key.encode("ascii")).digest()
        mac = hmac.new(key.encode("ascii"), digestmod=hashlib.sha256)
        for part in parts:
            mac.update(len(part).to_bytes(8, "big") + part)
        request_hmac = mac.digest()
        tag = key_sha256[:4].hex()
        async with self._held((user, key_sha256)):
            found = await self.store.call(self.store.sync.idempotent_answer, user, key_sha256)
            if found is not None:
                if not hmac.compare_digest(found.request_hmac, request_hmac):
                    log.info("idempotency_key_reused", key=tag, user_id=user)
                    raise IdempotencyKeyReused(
                        f"this {HEADER} was already used for a different request (another "
                        "method, path or body); use a new key for a new request")
                log.info("request_replayed", key=tag, user_id=user,
                         message_id=found.message_id.hex())
                return json.loads(found.answer), found.status, True

            def stored(mid: bytes) -> IdempotentAnswer:
                body = json.dumps(answer(mid), separators=(",", ":")).encode("utf-8")
                return IdempotentAnswer(user, key_sha256, request_hmac, mid, status, body)

            mid = await create(stored)
        return answer(mid), status, False
