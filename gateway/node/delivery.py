"""Delivery: one durable queue and one worker per peer gateway.

How a message travels
---------------------
``submit`` stores the sealed envelope and one outbox row per recipient office in
one transaction; only then is the officer told "queued". Each peer has a worker
that takes due rows (urgent first, then oldest; up to ``batch_size`` at once, and no
more than fit in a request of ``max_request_bytes``, what a peer with the same settings
accepts, or half the last batch the peer refused as too large), sends them in one
authenticated request, and records the outcome of every
envelope in one transaction. Up to ``batches_in_flight`` requests are in flight to a
peer at once (one while requests fail, until one succeeds), each with rows
the others do not hold; a reply of ours is not taken while the message of ours it answers
is still queued for that peer, so it never overtakes it (``OutboxMixin.due``):

* **delivered** — the peer returned a receipt that verifies under the peer's key
  and names this message id and envelope hash; the receipt is stored.
* **retry** (transient) — the peer is unreachable, times out, answers 429, answers
  more than ``MAX_ANSWER_BYTES`` (read as it streams) or unreadable JSON, or
  refuses the request as a whole for a reason that is not about its envelopes
  (``REQUEST_LEVEL_CODES``: auth, clock, busy, a downgrade while the two directories
  disagree on the suite): the peer's backoff grows
  ``base·2^(n-1)`` capped at ``retry_cap_ms``, ±20 % jitter, and is persisted so a
  restart continues where it was. A ``Retry-After`` from the peer (a hint only) replaces
  it when it is ASCII digits or an HTTP date, clamped to ``[retry_base_ms,
  retry_cap_ms]``; anything else is ignored, and so is one in an answer to a version-2
  request whose RFC 9421 response signature does not verify (docs/wire-format.md §15).
  Success resets the backoff, and so does any authenticated request from that peer (it
  is evidently back).
* **held back** — the peer answered but refused the request for any other reason
  (5xx, a malformed batch): the worker sends one envelope per request (up to
  ``batches_in_flight`` of them at once) until a request succeeds, and an envelope refused
  on its own backs off alone, so that one envelope the peer cannot take never holds back
  the ones behind it.
* **dead** (permanent) — the peer refused that one envelope for a reason that
  will not change (malformed, unsupported version, downgrade, bad signature, conflict,
  not a recipient, expired, too large). The row keeps the code and the reason for
  the officer. One poison envelope never blocks the others: results are per
  envelope, and a batch the peer refuses as too large is split. To a version-2 request
  only a signed answer can make a dead letter (docs/wire-format.md §15): a per-envelope
  refusal, or a 413, in an answer whose response signature does not verify is retried
  (a 413 for the declared size is never signed: such an envelope is retried until it
  expires).

Nothing is ever dropped: rows leave ``queued`` only as delivered or dead, and an
envelope stored by the peer but not yet marked delivered here (we crashed) is
sent again and deduplicated there, which answers with the stored receipt.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import random
import struct
from collections.abc import Sequence
from typing import Any

import aiohttp

from gateway.node.logs import get_logger
from gateway.node.ports import DeliveryHost, Node
from gateway.protocol import peerrequest
from gateway.protocol.envelope import suite_of
from gateway.protocol.errors import GatewayError, PayloadTooLarge
from gateway.protocol.receipt import verify_receipt
from gateway.store import OutboxItem

__all__ = ["MAX_ANSWER_BYTES", "PERMANENT_CODES", "PeerDelivery", "frame_batch", "parse_batch",
           "read_answer", "receipted", "record_delivered", "retry_after_ms"]

log = get_logger("delivery")
PERMANENT_CODES = frozenset({
    "MALFORMED", "UNSUPPORTED_VERSION", "DOWNGRADE", "TOO_LARGE", "BAD_SIGNATURE", "UNKNOWN_KEY",
    "KEY_REVOKED", "KEY_EXPIRED", "EXPIRED", "NOT_A_RECIPIENT", "CONFLICT", "DECRYPTION_FAILED",
    "INVALID_TRANSITION",
})
# Refusals of the request as a whole that say nothing about the envelopes in it (the peer
# is busy, our clock or key is wrong): the whole queue waits, with backoff.
REQUEST_LEVEL_CODES = frozenset({
    "RATE_LIMITED", "ADDRESS_BLOCKED", "UNAUTHORIZED", "WRONG_DESTINATION", "REPLAY", "BUSY",
    "REQUEST_TIMEOUT", "PEER_UNAVAILABLE", "DOWNGRADE",
})
PATH = "/peer/v1/envelopes"
#: seconds between reads of the queue while its only due rows are replies that wait
HELD_POLL_S = 5.0
#: the most of a peer's answer we read (a batch of 256 suite-2 receipts is some 1.5 MB)
MAX_ANSWER_BYTES = 8 * 1024 * 1024
_U32 = struct.Struct(">I")


def frame_batch(envelopes: Sequence[bytes]) -> bytes:
    """Batch body: for each envelope, u32be length ‖ bytes."""
    return b"".join(_U32.pack(len(e)) + e for e in envelopes)


def parse_batch(body: bytes, max_items: int) -> list[bytes]:
    from gateway.protocol.errors import Malformed

    out, pos = [], 0
    while pos < len(body):
        if len(body) - pos < 4:
            raise Malformed("batch is truncated")
        (n,) = _U32.unpack_from(body, pos)
        pos += 4
        if len(body) - pos < n:
            raise Malformed("batch is truncated")
        out.append(body[pos:pos + n])
        pos += n
        if len(out) > max_items:
            raise Malformed(f"more than {max_items} envelopes in one request")
    if not out:
        raise Malformed("empty batch")
    return out


def backoff_ms(failures: int, base_ms: int, cap_ms: int) -> int:
    delay = min(cap_ms, base_ms * 2 ** max(0, failures - 1))
    return int(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


def retry_after_ms(value: str | None, *, now_ms: int, base_ms: int, cap_ms: int) -> int | None:
    """A peer's ``Retry-After`` as a delay in ms, or None (use our own backoff) if invalid.

    The header is not covered by the peer's signature, so it is only a hint: it must be
    ASCII digits (delay-seconds) or an HTTP date (RFC 9110 §10.2.3), and the delay is
    clamped to ``[base_ms, cap_ms]`` so that one forged answer cannot park the queue.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64 or not text.isascii():
        return None
    if text.isdigit():
        delay = int(text[:12]) * 1000 if len(text) <= 12 else cap_ms
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None  # an HTTP date is always GMT; "-0000" or no zone is not one
        delay = int(when.timestamp() * 1000) - now_ms
    return max(base_ms, min(cap_ms, delay))


class PeerDelivery:
    """The worker for one peer office."""

    def __init__(self, gw: DeliveryHost, peer: str, url: str) -> None:
        self.gw = gw
        self.peer = peer
        self.url = url.rstrip("/")
        self.wake = asyncio.Event()
        self.failures = 0
        self.next_attempt_ms = 0
        self.batch_size = gw.config.batch_size
        #: The largest delivery request to send, bytes: our own ``max_request_bytes`` (what a
        #: peer with the same settings takes) until the peer refuses a batch as too large;
        #: from then on half that batch, learned for the life of this worker.
        self.max_batch_bytes = gw.config.max_request_bytes
        self.stopped = False
        #: With other processes on the same database (they may queue for this peer and
        #: cannot wake this worker), an idle worker looks for due items this often, seconds.
        self.idle_poll_s: float | None = None
        #: Batches in flight (up to ``batches_in_flight``) and their outbox ids, which the
        #: next read of the queue leaves out.
        self._flights: set[asyncio.Future[Any]] = set()
        self._flying: set[int] = set()
        #: Whether the last read of the queue took every row then due (it did not stop at a
        #: limit of rows or bytes, ``Due.full``): while batches are in flight, reading again
        #: finds nothing new until a submission wakes the worker or a batch lands.
        self._drained = False
        #: Batches landed so far (a read of the queue tells whether one landed meanwhile).
        self._landings = 0

    async def load(self) -> None:
        st = await self.gw.store.call(self.gw.store.sync.peer_get, self.peer)
        self.failures, self.next_attempt_ms = int(st["failures"]), int(st["next_attempt_ms"])

    def reset_backoff(self) -> None:
        """The peer is evidently up: try again now."""
        self.failures = 0
        self.next_attempt_ms = 0
        self.wake.set()

    async def run(self) -> None:
        await self.load()
        try:
            while not self.stopped:
                try:
                    await self._step()
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - the worker must outlive any failure
                    log.error("delivery_loop_error", peer=self.peer, error=type(e).__name__)
                    await asyncio.sleep(1.0)
        finally:
            for t in self._flights:
                t.cancel()
            await asyncio.gather(*self._flights, return_exceptions=True)

    async def _wait(self, seconds: float | None) -> None:
        """Until ``wake`` is set, a batch in flight lands, or ``seconds`` pass. ``wake`` is
        cleared at the start of each step, before the queue is read, so a submission that
        commits while the worker reads the queue is not missed."""
        waiter: asyncio.Future[Any] = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({waiter, *self._flights}, timeout=seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def _step(self) -> None:
        gw = self.gw
        woken = self.wake.is_set()
        self.wake.clear()
        now = gw.clock.now_ms()
        if self.next_attempt_ms > now:
            await self._wait((self.next_attempt_ms - now) / 1000)
            return
        # While the peer fails (down, busy, refusing us), one request at a time until one
        # succeeds.
        limit = 1 if self.failures else gw.config.batches_in_flight
        if len(self._flights) >= limit:
            await self._wait(None)
            return
        if self._flights and self._drained and not woken:
            # The last read took every row then due, and nothing was queued since: a read
            # now would find nothing. A landing may free a reply that waits or put rows
            # back (``_landed``); a submission wakes the worker.
            await self._wait(None)
            return
        landings = self._landings
        due = await gw.store.read(
            gw.store.sync.due_or_next, self.peer, now, self.batch_size,
            frozenset(self._flying), self.max_batch_bytes)
        items, nxt, later = due.items, due.next_ms, due.later_ms
        # A batch that landed during the read may have freed or put back rows the read
        # did not see: then the queue is read again before anything waits.
        settled = self._landings == landings
        self._drained = settled and not due.full
        if not items:
            if not settled:
                return
            if self._flights:
                await self._wait(None)
                return
            if nxt is not None and nxt <= now:
                # Rows due now that ``due`` did not take: replies waiting for a message of
                # ours that backs off. Wake when the next row is due after now, and at least
                # every HELD_POLL_S (``due`` reads only so far past waiting replies).
                nxt = now + int(HELD_POLL_S * 1000) if later is None else min(
                    later, now + int(HELD_POLL_S * 1000))
            wait = None if nxt is None else max(0.05, (nxt - now) / 1000)
            if self.idle_poll_s is not None:
                wait = self.idle_poll_s if wait is None else min(wait, self.idle_poll_s)
            await self._wait(wait)
            return
        ids = [i.outbox_id for i in items]
        self._flying.update(ids)
        flight = asyncio.ensure_future(self.send(items))
        self._flights.add(flight)
        flight.add_done_callback(lambda t: self._landed(t, ids))

    def _landed(self, flight: asyncio.Future[Any], ids: list[int]) -> None:
        """A batch's outcome is recorded (or its task failed): its rows may be read again."""
        self._flights.discard(flight)
        self._flying.difference_update(ids)
        self._drained = False
        self._landings += 1
        if not flight.cancelled() and flight.exception() is not None:
            log.error("delivery_loop_error", peer=self.peer,
                      error=type(flight.exception()).__name__)
            # As the loop does for its own failures: a second before the queue is read again
            # (held in memory only; the persisted backoff is not this).
            self.next_attempt_ms = max(self.next_attempt_ms, self.gw.clock.now_ms() + 1000)

    async def send(self, items: list[OutboxItem]) -> None:
        gw = self.gw
        now = gw.clock.now_ms()
        expired = [i for i in items if i.expires_at_ms <= now]
        live = [i for i in items if i.expires_at_ms > now]
        dead: list[tuple[int, str, str]] = [
            (i.outbox_id, "EXPIRED", "the message expired before the peer accepted it")
            for i in expired]
        if not live:
            await gw.store.call(gw.store.sync.record_results, self.peer, now_ms=now,
                                delivered=[], retry=[], dead=dead, items=items)
            return
        body = frame_batch([i.raw for i in live])
        req = peerrequest.sign(gw.keyring, gw.directory, method="POST", path_qs=PATH,
                               destination=self.peer, body=body, now_ms=now)
        headers = {**req.headers, "Content-Type": "application/octet-stream"}
        try:
            async with gw.http.post(self.url + PATH, data=body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(
                                        total=gw.config.request_timeout_s)) as resp:
                status = resp.status
                payload = await read_answer(resp)
                retry_after = resp.headers.get("Retry-After")
                # To a version-2 request, what the answer says is the peer's only if signed.
                signed = req.version < 2 or peerrequest.answer_verified(
                    req, status=status, headers=resp.headers, body=payload,
                    directory=gw.directory, now_ms=gw.clock.now_ms(),
                    max_skew_ms=gw.config.max_skew_ms)
                if not signed:
                    retry_after = None  # unsigned by a suite-2 peer: not even a hint
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            await self._transient(items, live, dead, "PEER_UNAVAILABLE",
                                  f"cannot reach {self.peer}: {type(e).__name__} {e}")
            return
        except PayloadTooLarge as e:
            await self._transient(items, live, dead, "MALFORMED", e.message)
            return
        if status == 413 and len(live) > 1:
            # Too large as a batch (the peer takes less than we do): one at a time until a
            # request succeeds, and from then on batches of at most half this one.
            self.max_batch_bytes = min(self.max_batch_bytes, max(1, len(body) // 2))
            self.batch_size = 1
            self.wake.set()
            return
        if status != 200:
            code, msg = _error_of(payload, status)
            if status == 413 and signed:
                dead.append((live[0].outbox_id, "TOO_LARGE", msg))
                await gw.store.call(gw.store.sync.record_results, self.peer, now_ms=now,
                                    delivered=[], retry=[], dead=dead, items=items)
                return
            wait = retry_after_ms(retry_after, now_ms=now, base_ms=gw.config.retry_base_ms,
                                  cap_ms=gw.config.retry_cap_ms)
            if status == 429 or code in REQUEST_LEVEL_CODES:
                await self._transient(items, live, dead, code, msg, wait_ms=wait)
            elif len(live) > 1:
                # The peer answered, but refused the request as a whole: one envelope may be
                # the cause. Send one at a time until a request succeeds, so that it cannot
                # hold back the others.
                self.batch_size = 1
                self.wake.set()
            else:
                await self._refused_one(items, live[0], dead, code, msg, wait)
            return
        self.batch_size = gw.config.batch_size
        self.stopped = False
        await self._record(items, live, dead, payload, sent_ms=now, signed=signed)

    async def _record(self, items: list[OutboxItem], live: list[OutboxItem],
                      dead: list[tuple[int, str, str]], payload: bytes, *,
                      sent_ms: int, signed: bool = True) -> None:
        gw = self.gw
        now = gw.clock.now_ms()
        try:
            results = json.loads(payload)["results"]
            if not isinstance(results, list) or len(results) != len(live) or not all(
                    isinstance(r, dict) for r in results):
                raise ValueError("results are not one object per envelope")
        except (ValueError, KeyError, TypeError, RecursionError):  # (nested too deep)
            await self._transient(items, live, dead, "MALFORMED",
                                  "peer answered with unreadable JSON")
            return
        delivered, retry = [], []
        for item, res in zip(live, results, strict=True):
            if res.get("status") in ("accepted", "duplicate"):
                try:
                    delivered.append(receipted(gw, self.peer, item,
                                               base64.b64decode(res.get("receipt", "")), now))
                except (GatewayError, ValueError, TypeError) as e:
                    code = getattr(e, "code", "MALFORMED")
                    retry.append((item.outbox_id, now + gw.config.retry_cap_ms, code,
                                  "the peer's receipt does not verify"))
                    continue
            elif res.get("code") in PERMANENT_CODES and signed:
                dead.append((item.outbox_id, str(res["code"]), str(res.get("message", ""))))
                log.warning("dead_letter", peer=self.peer, message_id=item.message_id.hex(),
                            code=res["code"])
            else:  # (also a refusal in an unsigned answer to a version-2 request)
                retry.append((item.outbox_id,
                              now + backoff_ms(item.attempts + 1, gw.config.retry_base_ms,
                                               gw.config.retry_cap_ms),
                              str(res.get("code", "INTERNAL")), str(res.get("message", ""))))
        await record_delivered(gw, self.peer, items, delivered, retry=retry, dead=dead,
                               sent_ms=sent_ms, now_ms=now)
        info = gw.peer_info.setdefault(self.peer, {})
        info.update(reachable=True, last_success_ms=now)
        if self.failures:  # persist the reset only when there was something to reset
            self.failures = 0
            self.next_attempt_ms = 0
            await gw.store.call(gw.store.sync.peer_update, self.peer, failures=0,
                                next_attempt_ms=0, last_success_ms=now)
        log.info("delivered", peer=self.peer, delivered=len(delivered), retry=len(retry),
                 dead=len(dead))

    async def _refused_one(self, items: list[OutboxItem], item: OutboxItem,
                           dead: list[tuple[int, str, str]], code: str, msg: str,
                           wait_ms: int | None) -> None:
        """The peer refused the request carrying this one envelope: back off this envelope
        alone; the ones behind it go on at once."""
        gw = self.gw
        now = gw.clock.now_ms()
        delay = max(wait_ms or 0, backoff_ms(item.attempts + 1, gw.config.retry_base_ms,
                                             gw.config.retry_cap_ms))
        retry = [(item.outbox_id, now + delay, code, msg)]
        await gw.store.call(gw.store.sync.record_results, self.peer, now_ms=now, delivered=[],
                            retry=retry, dead=dead, items=items)
        log.warning("envelope_held_back", peer=self.peer, code=code,
                    message_id=item.message_id.hex(), retry_in_ms=delay)
        self.wake.set()

    async def _transient(self, items: list[OutboxItem], live: list[OutboxItem],
                         dead: list[tuple[int, str, str]], code: str, msg: str,
                         wait_ms: int | None = None) -> None:
        gw = self.gw
        now = gw.clock.now_ms()
        failures = self.failures + 1
        if code == "PEER_UNAVAILABLE":
            gw.peer_info.setdefault(self.peer, {})["reachable"] = False
        delay = wait_ms if wait_ms is not None else backoff_ms(
            failures, gw.config.retry_base_ms, gw.config.retry_cap_ms)
        next_attempt = now + delay
        retry = [(i.outbox_id, next_attempt, code, msg) for i in live]
        await gw.store.call(gw.store.sync.record_results, self.peer, now_ms=now, delivered=[],
                            retry=retry, dead=dead, items=items)
        await gw.store.call(gw.store.sync.peer_update, self.peer, failures=failures,
                            next_attempt_ms=next_attempt, last_failure_ms=now,
                            last_error_code=code, last_error=msg[:300])
        # Only once stored: what this worker holds is never ahead of what a restart reads.
        self.failures, self.next_attempt_ms = failures, next_attempt
        log.warning("delivery_failed", peer=self.peer, code=code, failures=self.failures,
                    retry_in_ms=delay, queued=len(live))


def receipted(gw: Node, peer: str, item: OutboxItem, receipt: bytes,
              now_ms: int) -> tuple[int, int, bytes, int]:
    """The delivery that ``receipt`` proves for ``item`` (outbox id, envelope id, receipt,
    received at), for ``record_delivered``: the receipt must verify under a key of ``peer`` and
    name the item's message id and envelope hash, in the envelope's suite
    (``protocol.receipt.verify_receipt``: a suite-1 receipt for a suite-2 envelope is
    ``DOWNGRADE``).
    Raises (and logs) if it does not; whether it came over HTTP or in a courier bundle."""
    try:
        rec = verify_receipt(receipt, gw.directory, receiver=peer, message_id=item.message_id,
                             envelope_sha256=item.sha256, now_ms=now_ms,
                             suite=suite_of(item.raw))
    except GatewayError as e:
        log.error("bad_receipt", peer=peer, message_id=item.message_id.hex(), code=e.code)
        raise
    return item.outbox_id, item.envelope_id, rec.raw, rec.received_at_ms


async def record_delivered(gw: Node, peer: str, items: Sequence[OutboxItem],
                           delivered: Sequence[tuple[int, int, bytes, int]], *,
                           retry: Sequence[tuple[int, int, str, str]] = (),
                           dead: Sequence[tuple[int, str, str]] = (), sent_ms: int,
                           now_ms: int) -> None:
    """Record the outcome of ``items`` in one transaction (delivered with their receipts,
    retry, dead; the audit leaves), and the delivery latencies of those delivered."""
    await gw.store.write(gw.store.sync.record_results, peer, now_ms=now_ms,
                         delivered=delivered, retry=retry, dead=dead, items=items)
    done = {d[0] for d in delivered}
    gw.metrics.delivered(peer, sent_ms=sent_ms, now_ms=now_ms, stored_at_ms=[
        i.stored_at_ms for i in items if i.outbox_id in done])


async def read_answer(resp: aiohttp.ClientResponse, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """A peer's answer body, streamed under ``limit`` (``TOO_LARGE`` past it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the peer's answer is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error_of(payload: bytes, status: int) -> tuple[str, str]:
    try:
        data: Any = json.loads(payload)
        return str(data["code"]), str(data.get("message", ""))
    except (ValueError, KeyError, TypeError, RecursionError):
        return ("PEER_UNAVAILABLE" if status >= 500 else "MALFORMED"), f"HTTP {status}"
