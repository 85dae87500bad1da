"""The peer port under hostile traffic, against real gateways on loopback (issue 9).

Each test reproduces one finding of the hardening review: unbounded limiter tables,
bodies read before authentication, half-sent heads exhausting descriptors, a spoofer
starving the real peer, one envelope blocking a queue, and unauthenticated 500s.
Attackers connect from 127.0.0.2 where the point is a different address than the
real peer's (127.0.0.1); the whole 127/8 range is loopback.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from gateway.node.delivery import frame_batch
from gateway.node.peer_api import LIMITS_KEY
from gateway.protocol import envelope
from gateway.protocol.peerauth import sign_request
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from tests.harness import BACKENDS, Pair, wait_for

PATH = "/peer/v1/envelopes"
ATTACKER = "127.0.0.2"


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param, max_request_bytes=256 * 1024,
             max_envelope_bytes=128 * 1024, head_timeout_s=1.0,
             max_connections=60, max_connections_per_address=20, body_timeout_s=2.0)
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def raw(pair: Pair, office: str, data: bytes, *, source: str = ATTACKER,
              read: bool = True, timeout: float = 5.0) -> bytes:
    """Send raw bytes to a peer port; the answer up to the connection's close."""
    port = pair.ports[office][0]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(data)
        await writer.drain()
        if not read:
            return b""
        async with asyncio.timeout(timeout):
            return await reader.read()
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def signed_ping(session: aiohttp.ClientSession, pair: Pair) -> int:
    h = sign_request(pair.net.keyrings[LAOCAI], method="GET", path_qs="/peer/v1/ping",
                     destination=HEKOU, body=b"", now_ms=int(time.time() * 1000))
    async with session.get(pair.peer(HEKOU) + "/peer/v1/ping", headers=h) as r:
        return r.status


# ------------------------------------------------------------------ 1. memory per claimed origin

async def test_unique_claimed_origins_do_not_grow_any_table(pair, session):
    gw = await pair.start(HEKOU)
    limits = gw.peer_app[LIMITS_KEY]
    connector = aiohttp.TCPConnector(local_addr=(ATTACKER, 0), limit=8)
    async with aiohttp.ClientSession(connector=connector) as attacker:
        async def one(i: int) -> int:
            h = {"BLO-Origin": f"x{i:07d}" + "a" * 7992}
            async with attacker.get(pair.peer(HEKOU) + "/peer/v1/ping", headers=h) as r:
                return r.status
        statuses = [await one(i) for i in range(3000)]
    assert set(statuses) <= {401, 429}
    assert 429 in statuses  # the address ran out of its failure budget
    assert len(limits.per_origin) == 0  # nothing is keyed on a claimed origin
    assert len(limits.per_address_failures) == 1
    assert await signed_ping(session, pair) == 200


# ------------------------------------------------------------------ 2. authenticate before reading

async def test_unauthenticated_body_is_not_read(pair):
    await pair.start(HEKOU)
    head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: {n}\r\nBLO-Body-SHA256: " + "0" * 64 + "\r\n\r\n")
    # Within the size limit but unauthenticated: refused from the headers, body never read,
    # the connection closed (the answer arrives although not one body byte was sent).
    t0 = time.monotonic()
    answer = await raw(pair, HEKOU, head.format(n=200_000).encode())
    assert status_of(answer) == 401 and b"UNAUTHORIZED" in answer
    # Over the limit: refused on Content-Length alone.
    answer = await raw(pair, HEKOU, head.format(n=1 << 30).encode())
    assert status_of(answer) == 413 and b"TOO_LARGE" in answer
    assert time.monotonic() - t0 < 3.0


async def test_streamed_body_over_the_limit_and_slow_body(pair):
    gw = await pair.start(HEKOU)
    assert gw.config.max_request_bytes == 256 * 1024
    big = b"\0" * (300 * 1024)
    h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH, destination=HEKOU,
                     body=big, now_ms=int(time.time() * 1000))
    lines = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Transfer-Encoding: chunked\r\n{lines}\r\n")
    chunks = b"".join(b"%x\r\n" % len(c) + c + b"\r\n"
                      for c in (big[i:i + 65536] for i in range(0, len(big), 65536)))
    answer = await raw(pair, HEKOU, head.encode() + chunks + b"0\r\n\r\n", source="127.0.0.1")
    assert status_of(answer) == 413
    # A signed request whose body never arrives: answered after body_timeout_s, not held.
    h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH, destination=HEKOU,
                     body=b"x" * 1000, now_ms=int(time.time() * 1000))
    lines = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    t0 = time.monotonic()
    answer = await raw(pair, HEKOU, f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000"
                       f"\r\n{lines}\r\n".encode() + b"x" * 10, source="127.0.0.1")
    assert status_of(answer) == 408 and b"REQUEST_TIMEOUT" in answer
    assert time.monotonic() - t0 < 5.0


async def test_half_sent_heads_cannot_exhaust_connections(pair, session):
    gw = await pair.start(HEKOU)
    port = pair.ports[HEKOU][0]
    socks = []
    for _ in range(40):  # twice the per-address cap
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
        w.write(b"GET /peer/v1/ping HTTP/1.1\r\nHost: x\r\nBLO-Origin: ")
        socks.append((r, w))
    await asyncio.sleep(0.2)
    guard = gw.peer_guard
    assert guard.open_connections <= 20
    assert guard.counters["refused_address_cap"] >= 20
    # The real peer, from its own address, is served at once.
    assert await signed_ping(session, pair) == 200
    # The slow heads are closed after head_timeout_s.
    async with asyncio.timeout(5):
        for r, _ in socks:
            assert await r.read() == b"" or True
    await wait_for(lambda: _async(guard.open_connections <= 1), timeout=5, what="heads closed")
    assert guard.counters["closed_slow_head"] >= 1
    for _, w in socks:
        w.close()
    log = (pair.homes[HEKOU] / "gateway.log")
    assert not log.exists() or log.read_text().count("accept") < 5


async def _async(value: bool) -> bool:
    return value


# ------------------------------------------------------------------ 3. a spoofer and the real peer

async def test_spoofed_origin_flood_does_not_starve_the_real_peer(pair, session):
    await pair.start(HEKOU)
    laocai = await pair.start(LAOCAI)
    o = pair.officer(session, LAOCAI)
    stop = asyncio.Event()
    refused = [0]

    async def flood() -> None:  # unsigned pings claiming to be Lào Cai, from its own address
        async with aiohttp.ClientSession() as attacker:
            while not stop.is_set():
                async with attacker.get(pair.peer(HEKOU) + "/peer/v1/ping",
                                        headers={"BLO-Origin": LAOCAI}) as r:
                    refused[0] += r.status in (401, 429)

    floods = [asyncio.create_task(flood()) for _ in range(4)]
    try:
        await asyncio.sleep(0.3)
        mids = [await o.send([HEKOU], case_payloads()[0].payload.to_dict()) for _ in range(10)]
        for mid in mids:
            await wait_for(lambda mid=mid: _delivered(o, mid), what="delivery under flood")
        pings = [await signed_ping(session, pair) for _ in range(20)]
    finally:
        stop.set()
        await asyncio.gather(*floods)
    assert refused[0] > 100
    assert pings == [200] * 20
    # Delivered at the first attempt: no genuine request of Lào Cai was refused.
    for mid in mids:
        st = await o.status(mid)
        assert st["deliveries"][0]["attempts"] == 1, st
    assert laocai.deliveries[HEKOU].failures == 0


async def _delivered(o: Any, mid: str) -> bool:
    st = await o.status(mid)
    return all(d["state"] == "delivered" for d in st["deliveries"])


# ------------------------------------------------------------------ 5. one envelope, one queue

def _poison(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """An envelope whose case reference is longer than the store's column: sealed with the
    sender-side check switched off, as a faulty or hostile peer would."""
    payload = case_payloads()[0].payload
    payload.body.context.case_reference = "LC-" + "9" * 136
    with monkeypatch.context() as m:
        m.setattr(envelope, "_check_fields", lambda h: None)
        return envelope.seal(payload, sender=pair.net.keyrings[LAOCAI], recipients=[HEKOU],
                             directory=pair.net.directory(), now_ms=int(time.time() * 1000))


async def test_overlong_header_field_is_refused_per_envelope(pair, session, monkeypatch):
    await pair.start(HEKOU)
    o = pair.officer(session, LAOCAI)
    poison = _poison(pair, monkeypatch)
    good = envelope.seal(case_payloads()[0].payload, sender=pair.net.keyrings[LAOCAI],
                         recipients=[HEKOU], directory=pair.net.directory(),
                         now_ms=int(time.time() * 1000))
    body = frame_batch([poison, good])
    h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH, destination=HEKOU,
                     body=body, now_ms=int(time.time() * 1000))
    async with session.post(pair.peer(HEKOU) + PATH, data=body, headers=h) as r:
        assert r.status == 200
        results = (await r.json())["results"]
    assert results[0]["code"] == "MALFORMED" and "case_reference" in results[0]["message"]
    assert results[1]["status"] == "accepted"
    # And an officer cannot submit one.
    await pair.start(LAOCAI)
    payload = case_payloads()[0].payload.to_dict()
    payload["body"]["context"]["case_reference"] = "LC-" + "9" * 136
    res = await o.call("POST", "/api/v1/messages", {"to": [HEKOU], "payload": payload},
                       expect=400)
    assert res["code"] == "MALFORMED"


async def test_a_refused_envelope_never_holds_back_the_queue(pair, session, monkeypatch):
    """Whatever the status the peer answers for the request carrying one envelope (here a
    503, as a database error gives), the envelopes behind it are delivered."""
    from gateway.protocol.errors import StorageError
    from gateway.store.inbox import InboxMixin

    bad_ids: set[bytes] = set()
    receive = InboxMixin.receive

    def failing_receive(self, incoming, **kw):
        if any(i.message_id in bad_ids for i in incoming):
            raise StorageError("simulated: the database refused the row")
        return receive(self, incoming, **kw)

    laocai = await pair.start(LAOCAI)
    o = pair.officer(session, LAOCAI)
    # Queued while Hekou is down, so that they go out together in one batch.
    first = await o.send([HEKOU], case_payloads()[0].payload.to_dict())
    bad_ids.add(bytes.fromhex(first))
    rest = [await o.send([HEKOU], case_payloads()[0].payload.to_dict()) for _ in range(5)]
    # In place before Hekou listens: Lao Cai retries as soon as it can connect.
    monkeypatch.setattr(InboxMixin, "receive", failing_receive)
    await pair.start(HEKOU)
    laocai.deliveries[HEKOU].reset_backoff()
    for mid in rest:
        await wait_for(lambda mid=mid: _delivered(o, mid), what="delivery behind a refused one")

    async def refused_by_the_store() -> bool:
        # The first may have been tried alone while Hekou was down (PEER_UNAVAILABLE) and
        # be in its own backoff when the others went out: its next attempt is refused.
        st = await o.status(first)
        return bool(st["deliveries"][0]["error_code"] == "STORAGE_UNAVAILABLE")
    await wait_for(refused_by_the_store, what="the refused envelope's own answer")
    st = await o.status(first)
    assert st["deliveries"][0]["state"] == "queued"


# ------------------------------------------------------------------ 7. strict parsing, no 500

BAD_HEADERS = [
    ("BLO-Timestamp", "²"), ("BLO-Timestamp", "١٢٣"), ("BLO-Timestamp", "9" * 40),
    ("BLO-Signature", "!!!"), ("BLO-Signature", "A" * 86 + "="), ("BLO-Signature", "A" * 88),
    ("BLO-Nonce", "Ａ" * 16), ("BLO-Key-Id", "é" * 10), ("BLO-Body-SHA256", "x"),
    ("BLO-Origin", "a" * 8000), ("BLO-Origin", ""),
]


async def test_bad_auth_header_values_are_4xx_never_500(pair, session):
    await pair.start(HEKOU)
    for header, value in BAD_HEADERS:
        h = sign_request(pair.net.keyrings[LAOCAI], method="GET", path_qs="/peer/v1/ping",
                         destination=HEKOU, body=b"", now_ms=int(time.time() * 1000))
        h[header] = value
        async with session.get(pair.peer(HEKOU) + "/peer/v1/ping", headers=h) as r:
            assert 400 <= r.status < 500, (header, value, r.status, await r.text())
            assert (await r.json())["code"]
    log = pair.homes[HEKOU] / "gateway.log"
    assert not log.exists() or "Traceback" not in log.read_text()


async def test_bad_proof_queries_are_400(pair, session):
    await pair.start(HEKOU)
    for query in ("consistency?old=%C2%B2&new=1", "consistency?old=1&new=99999999999999999999",
                  "consistency?old=0&new=1", "consistency?old=-1&new=1", "consistency?old=1",
                  "inclusion?index=5&size=1", "inclusion?index=0&size=0",
                  "inclusion?index=%D9%A3&size=1"):
        path = f"/peer/v1/audit/{query}"
        h = sign_request(pair.net.keyrings[LAOCAI], method="GET", path_qs=path,
                         destination=HEKOU, body=b"", now_ms=int(time.time() * 1000))
        async with session.get(pair.peer(HEKOU) + path, headers=h) as r:
            assert r.status == 400 and (await r.json())["code"] == "MALFORMED", query


async def test_accept_errors_are_counted_not_logged(caplog):
    from gateway.node.guard import count_loop_errors

    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    try:
        counts = count_loop_errors(loop)
        before = sum(counts.values())
        for _ in range(500):
            loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                         "exception": OSError(24, "Too many open files")})
        assert sum(counts.values()) - before == 500
        assert len([r for r in caplog.records if "accept" in r.getMessage()]) <= 1
    finally:
        loop.set_exception_handler(previous)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_envelope_from_a_fast_clock_waits_and_is_delivered(tmp_path, backend):
    """Lào Cai's clock was 6 min 40 s fast when an officer sent: the envelope is signed that
    far ahead. Once the clock is put right its requests pass, but Hekou refuses the envelope
    as NOT_YET_VALID (beyond the 5-minute skew); Lào Cai keeps it queued (not a dead letter)
    and it is delivered once Hekou's clock is within the skew of its creation time."""
    from gateway.node.clock import FakeClock

    t0 = int(time.time() * 1000)
    pair = Pair(tmp_path, backend, now_ms=t0 - 3_600_000)
    try:
        fast = FakeClock(t0, offset_ms=400_000)
        hk_clock = FakeClock(t0)
        lc = await pair.start(LAOCAI, clock=fast)
        await pair.start(HEKOU, clock=hk_clock)
        async with aiohttp.ClientSession() as s:
            o = pair.officer(s, LAOCAI)
            mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())
            fast.offset_ms = 0  # the operator puts the clock right

            async def refused_not_yet() -> bool:
                lc.deliveries[HEKOU].reset_backoff()
                d = (await o.status(mid))["deliveries"][0]
                return bool(d["error_code"] == "NOT_YET_VALID")
            await wait_for(refused_not_yet, what="Hekou's NOT_YET_VALID")
            assert (await o.status(mid))["deliveries"][0]["state"] == "queued"
            for clock in (fast, hk_clock):  # two minutes later, on both sides
                clock.advance(120_000)
            lc.deliveries[HEKOU].reset_backoff()
            await o.wait_delivered(mid)
    finally:
        await pair.close()
