"""Case workflows through two real gateways: every state machine, invalid transitions refused
on both sides, the deadline clock, and statistics from metadata only."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from harness import BACKENDS, Officer, Pair, wait_for

from gateway.node.clock import FakeClock
from gateway.node.delivery import frame_batch
from gateway.protocol import envelope
from gateway.protocol.messages import MessageType, Payload, pb
from gateway.protocol.peerauth import sign_request
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from gateway.protocol.workflow import InvalidTransition, transition

HOUR = 3600_000


def fonts_installed() -> bool:
    from gateway.views.pdf import FONT_PATHS

    return all(any(os.path.exists(p) for p in paths) for paths in FONT_PATHS.values())


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param, checkpoint_interval_s=3600)
    yield p
    await p.close()


def test_transition_table():
    def step(mtype, s, state, kind="request"):
        return transition(message_id="b" * 32, message_type=mtype, step=s, in_reply_to="a" * 32,
                          current=(kind, state))

    assert step(MessageType.STATUS_UPDATE, 1, "sent").state_to == "accepted"
    assert step(MessageType.VERIFICATION_RESPONSE, 0, "in_progress").state_to == "answered"
    assert step(MessageType.STATUS_UPDATE, 4, "answered").state_to == "closed"
    assert step(MessageType.REJECTION, 3, "sent").state_to == "rejected"
    assert step(MessageType.REPATRIATION_NOTICE, 2, "proposed", "handover").state_to == \
        "counter_proposed"
    assert step(MessageType.HANDOVER_RECORD, 0, "agreed", "handover").state_to == "executed"
    assert step(MessageType.ACKNOWLEDGEMENT, 0, "sent", "notice").state_to == "acknowledged"
    for args in [(MessageType.VERIFICATION_RESPONSE, 0, "closed"),
                 (MessageType.STATUS_UPDATE, 1, "rejected"),
                 (MessageType.HANDOVER_RECORD, 0, "proposed", "handover"),
                 (MessageType.STATUS_UPDATE, 4, "sent"),
                 (MessageType.REPATRIATION_NOTICE, 3, "cancelled", "handover")]:
        with pytest.raises(InvalidTransition):
            step(*args)
    with pytest.raises(InvalidTransition):  # an answer must name its request
        transition(message_id="b" * 32, message_type=MessageType.VERIFICATION_RESPONSE,
                   step=1, in_reply_to="", current=None)


def _status(code: int, in_reply_to: str) -> Payload:
    return Payload(pb.StatusUpdate(context=pb.MessageContext(
        case_reference="LC-2026-0042", in_reply_to=in_reply_to, priority=1, handling_code=1),
        status=code))


async def _cases(o: Officer, query: str = "") -> dict:
    return {c["id"]: c for c in (await o.call("GET", "/api/v1/cases" + query,
                                              expect=200))["cases"]}


async def _send_delivered(o: Officer, to: str, payload: Payload) -> str:
    mid = await o.send([to], payload.to_dict())

    async def done() -> bool:
        return (await o.status(mid))["deliveries"][0]["state"] == "delivered"
    await wait_for(done, what="delivery")
    return mid


async def test_request_lifecycle_same_state_on_both_sides(pair):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    steps = case_payloads()
    async with aiohttp.ClientSession() as s:
        lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)
        req = await _send_delivered(hk, LAOCAI, steps[2].payload)
        for side in (lc, hk):
            assert (await _cases(side))[req]["state"] == "sent"
        await _send_delivered(lc, HEKOU, _status(1, req))  # accepted
        await _send_delivered(lc, HEKOU, _status(2, req))  # in progress
        await _send_delivered(lc, HEKOU, steps[4].replying_to(req))  # answered
        for side in (lc, hk):
            item = (await _cases(side))[req]
            assert item["state"] == "answered" and item["waiting"] is False
        await _send_delivered(hk, LAOCAI, _status(4, req))  # closed by the requester
        for side in (lc, hk):
            assert (await _cases(side))[req]["state"] == "closed"
        # A second answer to a closed request: refused before sealing, nothing changes.
        data = await lc.call("POST", "/api/v1/messages", {
            "to": [HEKOU], "payload": steps[4].replying_to(req).to_dict()}, expect=409)
        assert data["code"] == "INVALID_TRANSITION"
        assert (await _cases(hk))[req]["state"] == "closed"
        # The same, sealed by a misbehaving Lào Cai gateway and sent straight to Hekou:
        # Hekou refuses it with the same code and stores nothing.
        bad = envelope.seal(steps[4].replying_to(req), sender=pair.net.keyrings[LAOCAI],
                            recipients=[HEKOU], directory=pair.net.directory(),
                            now_ms=int(time.time() * 1000))
        before = len(await hk.inbox())
        body = frame_batch([bad])
        h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs="/peer/v1/envelopes",
                         destination=HEKOU, body=body, now_ms=int(time.time() * 1000))
        async with s.post(pair.peer(HEKOU) + "/peer/v1/envelopes", data=body, headers=h) as r:
            result = (await r.json())["results"][0]
        assert result["code"] == "INVALID_TRANSITION"
        assert len(await hk.inbox()) == before
        assert (await _cases(hk))[req]["state"] == "closed"


async def test_handover_lifecycle_and_out_of_order_record(pair):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    steps = case_payloads()
    async with aiohttp.ClientSession() as s:
        lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)
        plan = await _send_delivered(lc, HEKOU, steps[5].payload)  # proposal
        # A handover record before any agreement is refused.
        data = await lc.call("POST", "/api/v1/messages", {
            "to": [HEKOU], "payload": steps[8].replying_to(plan).to_dict()}, expect=409)
        assert data["code"] == "INVALID_TRANSITION"
        counter = pb.RepatriationNotice()
        counter.CopyFrom(steps[7].payload.body)
        counter.step = 2  # counter-proposal: 14:00 instead of 10:00
        counter.context.in_reply_to = plan
        await _send_delivered(hk, LAOCAI, Payload(counter))
        assert (await _cases(lc))[plan]["state"] == "counter_proposed"
        await _send_delivered(lc, HEKOU, _agreement(steps, plan))
        await _send_delivered(lc, HEKOU, steps[8].replying_to(plan))
        for side in (lc, hk):
            assert (await _cases(side))[plan]["state"] == "executed"


def _agreement(steps, plan: str) -> Payload:
    body = pb.RepatriationNotice()
    body.CopyFrom(steps[7].payload.body)
    body.context.in_reply_to = plan
    return Payload(body)


async def test_deadlines_on_an_injected_clock(tmp_path):
    # Configured on the receiving side: a routine case notice gets 120 h, not the default 168.
    pair = Pair(tmp_path, BACKENDS[-1], checkpoint_interval_s=3600,
                deadline_hours={"case_notice.routine": 120})
    try:
        await _deadlines(pair)
    finally:
        await pair.close()


async def _deadlines(pair: Pair) -> None:
    start = int(time.time() * 1000)
    clocks = {LAOCAI: FakeClock(start), HEKOU: FakeClock(start)}
    await pair.start(LAOCAI, clock=clocks[LAOCAI])
    await pair.start(HEKOU, clock=clocks[HEKOU])
    async with aiohttp.ClientSession() as s:
        lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)
        body = pb.CaseNotice()
        body.CopyFrom(case_payloads()[9].payload.body)
        body.context.priority = 1  # routine
        notice = await _send_delivered(lc, HEKOU, Payload(body))
        item = (await _cases(hk))[notice]
        assert item["deadline_ms"] == start + 120 * HOUR and item["overdue"] is False
        assert notice in await _cases(hk, "?due_hours=130")
        assert notice not in await _cases(hk, "?due_hours=100")
        for c in clocks.values():
            c.advance(169 * HOUR)
        for side in (lc, hk):
            assert notice in await _cases(side, "?overdue=1")
        # Acknowledging it ends the wait: no longer overdue.
        ack = pb.Acknowledgement(context=pb.MessageContext(in_reply_to=notice, priority=1,
                                                           handling_code=1))
        await _send_delivered(hk, LAOCAI, Payload(ack))
        for side in (lc, hk):
            assert notice not in await _cases(side, "?overdue=1")
            assert (await _cases(side))[notice]["state"] == "acknowledged"


async def test_statistics_for_a_period(pair, tmp_path):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    steps = case_payloads()
    async with aiohttp.ClientSession() as s:
        offs = {LAOCAI: Officer(s, pair.api(LAOCAI), pair.tokens[LAOCAI]["officer"]),
                HEKOU: Officer(s, pair.api(HEKOU), pair.tokens[HEKOU]["officer"])}
        ids: list[str] = []
        for step in steps:
            payload = (step.replying_to(ids[step.answers]) if step.answers is not None
                       else step.payload)
            ids.append(await _send_delivered(offs[step.sender], step.recipients[0], payload))
        hekou_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # Hekou counts in UTC+8
        today, tomorrow = hekou_today.isoformat(), (hekou_today + timedelta(days=1)).isoformat()
        figures = await offs[HEKOU].call("GET", f"/api/v1/stats?from={today}&to={tomorrow}",
                                         expect=200)
        assert figures["hotline_reports_received"] == 1
        assert figures["hotline_reports_classified_share"] == 1.0
        assert figures["items"] == 4  # hotline report, request, handover, case notice
        states = {(r["type"], r["state"]) for r in figures["by_type_direction_state"]}
        assert ("identification_request", "answered") in states
        assert ("repatriation_notice", "executed") in states
        assert figures["resolved_share"] == 0.75  # the case notice is not acknowledged yet
        assert figures["median_response_hours"] is not None
        async with s.get(pair.api(HEKOU) + f"/api/v1/stats?from={today}&to={tomorrow}"
                         "&format=csv", headers=offs[HEKOU].h) as r:
            text = await r.text()
        assert text.startswith("type,direction,state,count")
        assert "hotline_reports_classified_share,1.0" in text
        async with s.get(pair.api(HEKOU) + f"/api/v1/stats.pdf?from={today}&to={tomorrow}",
                         headers=offs[HEKOU].h) as r:
            body = await r.read()
    if fonts_installed():
        import shutil
        import subprocess

        assert body.startswith(b"%PDF")
        if shutil.which("pdftotext"):
            path = tmp_path / "stats.pdf"
            path.write_bytes(body)
            text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                  text=True, check=True).stdout
            for expected in ("Tỷ lệ giải quyết", "办结率", "75 %", "Tin báo đường dây nóng"):
                assert expected in text, expected


async def test_handover_record_signed_by_both_sides_and_printed(pair, tmp_path):
    import shutil
    import subprocess

    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    steps = case_payloads()
    async with aiohttp.ClientSession() as s:
        lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)
        plan = await _send_delivered(lc, HEKOU, steps[5].payload)
        await _send_delivered(hk, LAOCAI, _agreement(steps, plan))
        record = await _send_delivered(lc, HEKOU, steps[8].replying_to(plan))

        async def signed_by(o: Officer, n: int) -> bool:
            data = await o.call("GET", f"/api/v1/records/{record}", expect=200)
            return sum(1 for x in data["signatures"].values() if x["verified"]) >= n

        await wait_for(lambda: signed_by(hk, 1), what="Lào Cai's signature at Hekou")
        view = await hk.call("GET", f"/api/v1/records/{record}", expect=200)
        assert view["complete"] is False and LAOCAI in view["signatures"]
        # Hekou's officer checks the record and countersigns the same bytes.
        await hk.call("POST", f"/api/v1/records/{record}/countersign", {}, expect=201)
        data = await hk.call("POST", f"/api/v1/records/{record}/countersign", {}, expect=409)
        assert data["code"] == "CONFLICT"
        await wait_for(lambda: signed_by(lc, 2), what="both signatures at Lào Cai")
        for side in (lc, hk):
            view = await side.call("GET", f"/api/v1/records/{record}", expect=200)
            assert view["complete"] is True
            assert set(view["signatures"]) == {LAOCAI, HEKOU}
        async with s.get(pair.api(LAOCAI) + f"/api/v1/records/{record}/pdf",
                         headers=lc.h) as r:
            if not fonts_installed():
                # Without the Debian fonts the gateway says exactly what to install.
                data = await r.json()
                assert (r.status, data["code"]) == (500, "BAD_CONFIG")
                assert "fonts-wqy-microhei" in data["message"]
                return
            assert r.status == 200 and r.content_type == "application/pdf"
            pdf = await r.read()
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    import os

    if os.environ.get("BLO_KEEP_PDF"):
        shutil.copy(path, os.environ["BLO_KEEP_PDF"])
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        for expected in ("Biên bản bàn giao", "交接记录", "Giàng Thị Mai", "王氏梅",
                         "Đã kiểm tra chữ ký", "签名已验证"):
            assert expected in text, expected
