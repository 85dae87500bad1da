"""Two real gateways on loopback: exchange, outages, and everything a hostile peer might send.
Every test runs on SQLite and, where GATEWAY_TEST_PG_DSN is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time

import aiohttp
import pytest
from aiohttp import web
from harness import BACKENDS, Officer, Pair, ThrowawayCA, wait_for

from gateway.node.delivery import frame_batch, parse_batch
from gateway.protocol import envelope
from gateway.protocol.messages import Payload, pb
from gateway.protocol.peerauth import sign_request
from gateway.protocol.receipt import make_receipt, verify_receipt
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads

PATH = "/peer/v1/envelopes"


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def officer(pair: Pair, session, office: str, user: str = "officer") -> Officer:
    return Officer(session, pair.api(office), pair.tokens[office][user])


async def delivered(o: Officer, mid: str) -> bool:
    st = await o.status(mid)
    return all(d["state"] == "delivered" for d in st["deliveries"])


async def test_every_type_both_ways_with_verified_receipts(pair, session):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    sent = []
    for step in case_payloads():
        o = officer(pair, session, step.sender)
        payload = (step.replying_to(sent[step.answers][1]) if step.answers is not None
                   else step.payload)
        sent.append((step, await o.send(list(step.recipients), payload.to_dict()), payload))
        # The other side answers only what it has received.
        await wait_for(lambda o=o, mid=sent[-1][1]: delivered(o, mid), what="delivery")
    for step, mid, payload in sent:
        o = officer(pair, session, step.sender)
        await wait_for(lambda o=o, mid=mid: delivered(o, mid), what="delivery")
        st = await o.status(mid)
        rec = st["deliveries"][0]["receipt"]
        assert rec["verified"] is True
        # The receipt verifies independently, under the recipient's key, for these exact bytes.
        verify_receipt(base64.b64decode(rec["raw"]), pair.net.directory(),
                       receiver=step.recipients[0], message_id=bytes.fromhex(mid),
                       envelope_sha256=bytes.fromhex(st["envelope_sha256"]),
                       now_ms=int(time.time() * 1000))
        # The recipient opens it: the same payload, rendered in both languages.
        r = officer(pair, session, step.recipients[0])
        shown = await r.call("GET", f"/api/v1/inbox/{mid}?lang=both", expect=200)
        assert Payload.from_dict(shown["payload"]) == payload
        assert "│" in shown["text"]
    inbox = await officer(pair, session, HEKOU).inbox()
    # Plus Lào Cai's signature over the handover record, sent after the record itself.
    assert len(inbox) == sum(1 for s, _, _ in sent if s.recipients == (HEKOU,)) + 1
    assert sum(1 for m in inbox if m["type"] == "acknowledgement") == 1
    assert all(m["opened_by"] == "officer" for m in inbox if m["type"] != "acknowledgement")


async def test_peer_down_then_up(pair, session):
    await pair.start(LAOCAI)
    o = officer(pair, session, LAOCAI)
    steps = [s for s in case_payloads() if s.answers is None] * 2
    mids = [await o.send([HEKOU], s.payload.to_dict()) for s in steps]

    async def failed_once() -> bool:
        return all([await _attempted(o, m) for m in mids])

    await wait_for(failed_once, what="a failed attempt")
    st = (await o.status(mids[0]))["deliveries"][0]
    assert st["state"] == "queued" and st["error_code"] == "PEER_UNAVAILABLE"
    health = await o.call("GET", "/health", expect=200)
    assert health["peers"][HEKOU]["backlog"]["queued"] == len(mids)
    await pair.start(HEKOU)
    for m in mids:
        await wait_for(lambda m=m: delivered(o, m), what="catch-up")
    assert len(await officer(pair, session, HEKOU).inbox()) == len(mids)


async def test_our_gateway_restarted_mid_queue_loses_nothing(pair, session):
    """Stop the sender with messages queued; on restart the backlog drains exactly once."""
    await pair.start(LAOCAI)
    o = officer(pair, session, LAOCAI)
    payload = case_payloads()[9].payload.to_dict()
    mids = [await o.send([HEKOU], payload) for _ in range(30)]
    await pair.stop(LAOCAI)
    await pair.start(HEKOU)
    await pair.start(LAOCAI)
    for m in mids:
        await wait_for(lambda m=m: delivered(o, m), what="delivery after restart")
    inbox = await officer(pair, session, HEKOU).inbox()
    assert sorted(m["message_id"] for m in inbox) == sorted(mids)


async def test_urgent_messages_go_first(tmp_path, session):
    pair = Pair(tmp_path, "sqlite", batch_size=1)
    try:
        await pair.start(LAOCAI)
        o = officer(pair, session, LAOCAI)
        routine, urgent = case_payloads()[3].payload, case_payloads()[0].payload
        assert routine.context.priority < urgent.context.priority
        mids = [await o.send([HEKOU], routine.to_dict()) for _ in range(5)]
        urgent_mid = await o.send([HEKOU], urgent.to_dict())
        await wait_for(lambda: _attempted(o, urgent_mid), what="a failed attempt")
        await pair.start(HEKOU)
        for m in [*mids, urgent_mid]:
            await wait_for(lambda m=m: delivered(o, m))
        got = [m["message_id"] for m in reversed(await officer(pair, session, HEKOU).inbox())]
        assert got[0] == urgent_mid
    finally:
        await pair.close()


async def test_an_urgent_reply_never_overtakes_the_message_it_answers(pair, session):
    """Lào Cai proposes a handover (routine) and, while Hekou is down, cancels it (urgent).
    Urgent rows go first, but a reply to a message of ours still queued waits for it: the
    cancellation sent first would be refused for good (INVALID_TRANSITION: Hekou holds no
    proposal yet). Both arrive, in order, with two batches in flight."""
    await pair.start(LAOCAI)
    o = officer(pair, session, LAOCAI)
    proposal = case_payloads()[5].payload
    assert proposal.message_type.slug == "repatriation_notice"
    routine = [await o.send([HEKOU], case_payloads()[9].payload.to_dict()) for _ in range(3)]
    proposal_mid = await o.send([HEKOU], proposal.to_dict())
    cancel = Payload.from_dict(proposal.to_dict())
    cancel.body.step = 5  # type: ignore[attr-defined]  # cancellation
    cancel.body.context.priority = 3  # type: ignore[attr-defined]  # urgent
    cancel.body.context.in_reply_to = proposal_mid  # type: ignore[attr-defined]
    cancel_mid = await o.send([HEKOU], cancel.to_dict())
    await wait_for(lambda: _attempted(o, proposal_mid), what="a failed attempt")
    await pair.start(HEKOU)

    async def settled(m: str) -> bool:
        return (await o.status(m))["deliveries"][0]["state"] != "queued"

    for m in [*routine, proposal_mid, cancel_mid]:
        await wait_for(lambda m=m: settled(m), what="an outcome")
        assert (await o.status(m))["deliveries"][0]["state"] == "delivered", m
    got = [m["message_id"] for m in reversed(await officer(pair, session, HEKOU).inbox())]
    assert got.index(proposal_mid) < got.index(cancel_mid)


@pytest.mark.parametrize("in_flight", [1, 2])
async def test_batches_in_flight_to_one_peer(tmp_path, session, in_flight):
    """With ``batches_in_flight`` 2 the sender has a second request on the way while the
    peer still stores the first, and never a third; with 1, one at a time. The peer here is
    a stand-in on Hekou's address that holds each request until a second one arrives (for
    at most a second) and answers with Hekou's real receipts."""
    pair = Pair(tmp_path, "sqlite", batch_size=1, batches_in_flight=in_flight)
    directory, hekou = pair.net.directory(), pair.net.keyrings[HEKOU]
    active, most, together = 0, 0, asyncio.Event()

    async def envelopes(request: web.Request) -> web.Response:
        nonlocal active, most
        body = await request.read()
        active += 1
        most = max(most, active)
        if active >= 2:
            together.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await together.wait()
        now = int(time.time() * 1000)
        results = []
        for raw in parse_batch(body, 256):
            env = envelope.verify(raw, directory, now_ms=now)
            receipt = make_receipt(hekou, message_id=env.header.message_id, sender=LAOCAI,
                                   envelope_sha256=env.sha256, received_at_ms=now,
                                   suite=env.suite)
            results.append({"status": "accepted", "message_id": env.header.message_id.hex(),
                            "receipt": base64.b64encode(receipt).decode("ascii")})
        active -= 1
        return web.json_response({"results": results})

    app = web.Application()
    app.router.add_post(PATH, envelopes)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", pair.ports[HEKOU][0]).start()
    try:
        await pair.start(LAOCAI)
        o = officer(pair, session, LAOCAI)
        payload = case_payloads()[9].payload.to_dict()
        mids = [await o.send([HEKOU], payload) for _ in range(6)]
        for m in mids:
            await wait_for(lambda m=m: delivered(o, m), what="delivery")
        assert most == in_flight
    finally:
        await pair.close()
        await runner.cleanup()


@pytest.mark.parametrize(("backend", "ours"), [(b, 40_000) for b in BACKENDS] + [
    ("sqlite", 16 * 1024 * 1024)])
async def test_a_backlog_of_large_messages_goes_in_requests_the_peer_accepts(
        tmp_path, session, backend, ours):
    """Twenty-four 12 KB messages queued while Hekou was down; Hekou takes requests of at
    most 40,000 bytes. With the same limit at Lào Cai the backlog goes in batches of three,
    never in one request of 300 KB that Hekou refuses as too large (and then one at a time,
    and then whole again); with the default 16 MiB at Lào Cai, Hekou refuses the first
    batches (up to two in flight at once), and Lào Cai learns to send at most half of what
    was refused, until the batches fit."""
    pair = Pair(tmp_path, backend, max_request_bytes=40_000, max_envelope_bytes=30_000)
    pair.configure(LAOCAI, max_request_bytes=ours)
    try:
        lc = await pair.start(LAOCAI)
        o = officer(pair, session, LAOCAI)
        payload = Payload(pb.CaseNotice(
            context=pb.MessageContext(case_reference="LC-2026-0300", priority=1,
                                      handling_code=1),
            offence=pb.LocalizedText(vi="lừa bán " * 600, zh="拐卖" * 900))).to_dict()
        mids = [await o.send([HEKOU], payload) for _ in range(24)]
        hk = await pair.start(HEKOU)
        for m in mids:
            await wait_for(lambda m=m: delivered(o, m), what="delivery of the backlog")
        refused = hk.metrics.refusals.labels("peer", "TOO_LARGE")._value.get()
        # Requests whose receipts verified (one observation each): several envelopes each.
        requests = sum(b.get() for b in lc.metrics.receipt.labels(HEKOU)._buckets)
        # With 16 MiB at Lào Cai: 300 KB, 150 KB, 75 KB refused, each up to twice (two
        # requests in flight). Without what it learns: 11 refusals, 22 requests (the whole
        # backlog again after each request that succeeds).
        assert refused == 0 if ours == 40_000 else 1 <= refused <= 6, refused
        assert 8 <= requests <= 18, requests
    finally:
        await pair.close()


async def _attempted(o: Officer, mid: str) -> bool:
    return (await o.status(mid))["deliveries"][0]["attempts"] > 0


# ---------------------------------------------------------------------------- hostile peers


async def _post(session, pair: Pair, body: bytes, *, origin: str = LAOCAI,
                destination: str = HEKOU, keyring=None, headers=None, path: str = PATH,
                method: str = "POST"):
    ring = keyring or pair.net.keyrings[origin]
    h = sign_request(ring, method=method, path_qs=path, destination=destination, body=body,
                     now_ms=int(time.time() * 1000))
    h["BLO-Origin"] = origin
    h.update(headers or {})
    async with session.request(method, pair.peer(HEKOU) + path, data=body, headers=h) as r:
        return r.status, await r.json(), r.headers


def _sealed(pair: Pair, sender: str = LAOCAI, to=(HEKOU,), payload=None, **kw) -> bytes:
    return envelope.seal(payload or case_payloads()[0].payload, sender=pair.net.keyrings[sender],
                         recipients=list(to), directory=pair.net.directory(),
                         now_ms=int(time.time() * 1000), **kw)


async def test_replayed_request_is_refused(pair, session):
    await pair.start(HEKOU)
    body = frame_batch([_sealed(pair)])
    h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH, destination=HEKOU,
                     body=body, now_ms=int(time.time() * 1000))
    async with session.post(pair.peer(HEKOU) + PATH, data=body, headers=h) as r:
        assert r.status == 200
        assert (await r.json())["results"][0]["status"] == "accepted"
    async with session.post(pair.peer(HEKOU) + PATH, data=body, headers=h) as r:
        assert r.status == 409
        assert (await r.json())["code"] == "REPLAY"


async def test_forged_and_misdirected_requests(pair, session):
    await pair.start(HEKOU)
    body = frame_batch([_sealed(pair)])
    # Signed with the Border Guard's key while claiming to be Lào Cai.
    status, data, _ = await _post(session, pair, body,
                                  keyring=pair.net.keyrings[LAOCAI_BORDER_GUARD])
    assert (status, data["code"]) == (401, "BAD_SIGNATURE")
    # Meant for another gateway.
    status, data, _ = await _post(session, pair, body, destination=LAOCAI)
    assert (status, data["code"]) == (421, "WRONG_DESTINATION")
    # No authentication at all.
    async with session.post(pair.peer(HEKOU) + PATH, data=body) as r:
        assert r.status == 401 and (await r.json())["code"] == "UNAUTHORIZED"
    # A stale timestamp (outside the skew window), correctly signed.
    old = int(time.time() * 1000) - 3_600_000
    h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH, destination=HEKOU,
                     body=body, now_ms=old)
    async with session.post(pair.peer(HEKOU) + PATH, data=body, headers=h) as r:
        assert (await r.json())["code"] == "EXPIRED"
    # Body changed after signing.
    h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH, destination=HEKOU,
                     body=body, now_ms=int(time.time() * 1000))
    async with session.post(pair.peer(HEKOU) + PATH, data=body + b"\0", headers=h) as r:
        assert (r.status, (await r.json())["code"]) == (401, "BAD_SIGNATURE")
    # The Border Guard (a real peer) relays an envelope sealed by Lào Cai: refused per item.
    status, data, _ = await _post(session, pair, body, origin=LAOCAI_BORDER_GUARD)
    assert status == 200 and data["results"][0]["code"] == "BAD_SIGNATURE"
    assert await officer(pair, session, HEKOU).inbox() == []


async def test_tampered_malformed_oversized_and_misaddressed_envelopes(pair, session):
    await pair.start(HEKOU)
    good = _sealed(pair)
    tampered = good[:-100] + bytes([good[-100] ^ 1]) + good[-99:]
    not_for_us = _sealed(pair, to=(LAOCAI_BORDER_GUARD,))
    expired = _sealed(pair, ttl_ms=1)
    status, data, _ = await _post(session, pair, frame_batch(
        [tampered, b"garbage", good[:50], not_for_us, expired, good]))
    codes = [r.get("code", r.get("status")) for r in data["results"]]
    assert status == 200
    assert codes == ["BAD_SIGNATURE", "MALFORMED", "MALFORMED", "NOT_A_RECIPIENT", "EXPIRED",
                     "accepted"]
    # A batch whose framing is broken is refused whole.
    status, data, _ = await _post(session, pair, b"\x00\x00\x10\x00abc")
    assert (status, data["code"]) == (400, "MALFORMED")
    # Over the request size limit: refused before anything is read.
    big = b"\0" * (pair.config(HEKOU).max_request_bytes + 1)
    status, data, _ = await _post(session, pair, big)
    assert (status, data["code"]) == (413, "TOO_LARGE")
    assert len(await officer(pair, session, HEKOU).inbox()) == 1


async def test_duplicate_and_conflict(pair, session):
    await pair.start(HEKOU)
    mid = b"\x42" * 16
    first = _sealed(pair, message_id=mid)
    _, d1, _ = await _post(session, pair, frame_batch([first]))
    _, d2, _ = await _post(session, pair, frame_batch([first]))
    assert d1["results"][0]["status"] == "accepted"
    assert d2["results"][0]["status"] == "duplicate"
    assert d2["results"][0]["receipt"] == d1["results"][0]["receipt"]
    other = _sealed(pair, message_id=mid, payload=case_payloads()[3].payload)
    _, d3, _ = await _post(session, pair, frame_batch([other]))
    assert d3["results"][0]["code"] == "CONFLICT"
    assert len(await officer(pair, session, HEKOU).inbox()) == 1
    # Repeats and conflicts inside one batch are sorted out the same way.
    new = _sealed(pair, message_id=b"\x43" * 16)
    clash = _sealed(pair, message_id=b"\x43" * 16, payload=case_payloads()[3].payload)
    _, d4, _ = await _post(session, pair, frame_batch([new, new, clash, first]))
    got = [r.get("status", r.get("code")) for r in d4["results"]]
    assert got == ["accepted", "duplicate", "CONFLICT", "duplicate"]
    assert d4["results"][0]["receipt"] == d4["results"][1]["receipt"]
    assert len(await officer(pair, session, HEKOU).inbox()) == 2


async def test_single_put_path_must_match_the_envelope(pair, session):
    await pair.start(HEKOU)
    env = _sealed(pair)
    mid = envelope.verify(env, pair.net.directory(), now_ms=int(time.time() * 1000)).header
    good = f"/peer/v1/envelopes/{LAOCAI}/{mid.message_id_hex}"
    bad = f"/peer/v1/envelopes/{LAOCAI}/{'0' * 32}"
    status, data, _ = await _post(session, pair, env, path=bad, method="PUT")
    assert (status, data["code"]) == (400, "MALFORMED")
    status, data, _ = await _post(session, pair, env, path=good, method="PUT")
    assert (status, data["status"]) == (200, "accepted")


async def test_flooding_peer_gets_429(tmp_path, session):
    pair = Pair(tmp_path, "sqlite", peer_rate=1.0, peer_burst=3)
    try:
        await pair.start(HEKOU)
        statuses = []
        for _ in range(6):
            status, data, headers = await _post(session, pair, b"")
            statuses.append(status)
        assert statuses[:3] != [429] * 3 and statuses[-1] == 429
        assert data["code"] == "RATE_LIMITED" and int(headers["Retry-After"]) >= 1
    finally:
        await pair.close()


async def test_poison_message_goes_dead_and_does_not_block(pair, session):
    """An envelope the peer refuses for good is dead-lettered with its reason; the rest flow."""
    lc = await pair.start(LAOCAI)
    o = officer(pair, session, LAOCAI)
    # A message the Hekou gateway will call a conflict: its id was already used there.
    mid = b"\x07" * 16
    first = _sealed(pair, message_id=mid)
    second = _sealed(pair, message_id=mid, payload=case_payloads()[3].payload)
    hk = await pair.start(HEKOU)
    await _post(session, pair, frame_batch([first]))
    await pair.stop(HEKOU)
    from gateway.store import Incoming

    h = envelope.verify(second, lc.directory, now_ms=int(time.time() * 1000)).header
    import hashlib

    inc = Incoming(h.message_id, h.sender, h.recipient_offices, int(h.message_type),
                   hashlib.sha256(second).digest(), second, h.created_at_ms, h.expires_at_ms,
                   h.case_reference, h.in_reply_to, int(h.priority), int(h.handling_code),
                   h.deadline_ms)
    await lc.store.call(lc.store.sync.submit, inc, [HEKOU], now_ms=int(time.time() * 1000),
                        submitted_by="test")
    good = [await o.send([HEKOU], case_payloads()[0].payload.to_dict()) for _ in range(3)]
    hk = await pair.start(HEKOU)
    assert hk is not None
    for m in good:
        await wait_for(lambda m=m: delivered(o, m))
    st = (await o.status(mid.hex()))["deliveries"][0]
    assert st["state"] == "dead" and st["error_code"] == "CONFLICT"


async def test_officer_api_refuses_what_it_should(pair, session):
    await pair.start(LAOCAI)
    o = officer(pair, session, LAOCAI)
    anon = Officer(session, pair.api(LAOCAI), "not-a-token")
    assert (await anon.call("GET", "/api/v1/inbox"))["code"] == "UNAUTHORIZED"
    data = await o.call("POST", "/api/v1/messages", {"to": [HEKOU], "payload": {
        "type": "hotline_report", "body": {"no_such_field": 1}}}, expect=400)
    assert data["code"] == "MALFORMED"
    data = await o.call("POST", "/api/v1/messages",
                        {"to": ["vn.laocai.unknown"], "payload": case_payloads()[0].payload
                         .to_dict()}, expect=404)
    assert data["code"] == "NOT_FOUND"
    mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())
    auditor = officer(pair, session, LAOCAI, "auditor")
    assert (await auditor.status(mid))["deliveries"][0]["state"] == "queued"
    data = await auditor.call("POST", "/api/v1/messages", {"to": [HEKOU], "payload": {}},
                              expect=403)
    assert data["code"] == "FORBIDDEN"


async def test_auditor_cannot_open_and_nothing_plain_in_the_store(pair, session):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    step = case_payloads()[0]
    mid = await officer(pair, session, LAOCAI).send([HEKOU], step.payload.to_dict())
    await wait_for(lambda: delivered(officer(pair, session, LAOCAI), mid))
    data = await officer(pair, session, HEKOU, "auditor").call(
        "GET", f"/api/v1/inbox/{mid}", expect=403)
    assert data["code"] == "FORBIDDEN"
    # No personal data in either database, in any table.
    import sqlalchemy as sa

    for office in (LAOCAI, HEKOU):
        gw = pair.gateways[office]
        with gw.store.sync.engine.connect() as c:
            dump = b""
            for table in ("envelopes", "outbox", "inbox", "receipts", "peer_state", "users"):
                for row in c.execute(sa.text(f"SELECT * FROM {table}")):
                    dump += repr(tuple(row)).encode()
        for secret in ("Giàng Thị Mai", "王氏梅", "Giang Thi Mai", "+84 900 000 001", "ba tuần"):
            assert secret.encode() not in dump
            assert json.dumps(secret).encode() not in dump


async def test_health_reports_peers(pair, session):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    gw = pair.gateways[LAOCAI]
    await gw.ping(HEKOU)
    health = await officer(pair, session, LAOCAI).call("GET", "/health", expect=200)
    peer = health["peers"][HEKOU]
    assert health["store"] == "ok" and peer["reachable"] is True
    assert abs(peer["clock_skew_ms"]) < 1000
    await pair.stop(HEKOU)
    await gw.ping(HEKOU)
    health = await officer(pair, session, LAOCAI).call("GET", "/health", expect=200)
    assert health["peers"][HEKOU]["reachable"] is False


async def test_backoff_is_persisted_across_restarts(pair):
    gw = await pair.start(LAOCAI)
    await gw.submit(case_payloads()[0].payload, [HEKOU], user="t")
    await wait_for(lambda: _failures(gw), what="failures")
    failures = gw.deliveries[HEKOU].failures
    await pair.stop(LAOCAI)
    gw = await pair.start(LAOCAI)

    async def loaded() -> bool:  # 0 until the worker has read its state (or failed once)
        return gw.deliveries[HEKOU].failures != 0
    await wait_for(loaded, what="the worker's first failure count")
    # read back from the store: a worker that started from 0 would show 1 here
    assert gw.deliveries[HEKOU].failures >= failures


async def _failures(gw) -> bool:
    return gw.deliveries[HEKOU].failures >= 2


def test_payload_fixture_is_sane():
    assert Payload(pb.Acknowledgement()).message_type.slug == "acknowledgement"


async def test_peer_api_over_tls(tmp_path, session):
    """Hekou serves its peer API over TLS; Lào Cai verifies it against a pinned CA file."""
    ca = ThrowawayCA(tmp_path / "ca", "test CA")
    cert, key = ca.issue("hekou-gateway.test", server=True)
    pair = Pair(tmp_path / "gw", "sqlite")
    try:
        pair.configure(HEKOU, tls_cert=str(cert), tls_key=str(key))
        pair.configure(LAOCAI, tls_ca=str(ca.cert_file),
                       peer_urls={HEKOU: f"https://127.0.0.1:{pair.ports[HEKOU][0]}"})
        await pair.start(HEKOU)
        await pair.start(LAOCAI)
        o = officer(pair, session, LAOCAI)
        mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())
        await wait_for(lambda: delivered(o, mid), what="delivery over TLS")
        # Plain HTTP to the TLS port does not get through.
        with pytest.raises(aiohttp.ClientError):
            async with session.get(pair.peer(HEKOU) + "/peer/v1/ping") as r:
                await r.read()
    finally:
        await pair.close()
