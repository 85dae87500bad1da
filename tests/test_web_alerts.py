"""Live alerts over real HTTP between two real gateways: a Hekou page's alert stream (server-
sent events, as a browser's EventSource reads them) gets the unread count at once, then an
``urgent`` event within 5 s of an urgent message's delivery from Lào Cai, in the user's
language; a routine message only updates the count; an auditor's banner has no link to the
content; the stream ends with the session and with the gateway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import BACKENDS, Pair
from webtools import Browser, EventStream, web_user

from gateway.node.web import pages_alerts
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI


def _notice(priority: int, ref: str) -> dict[str, Any]:
    return Payload(pb.CaseNotice(
        context=pb.MessageContext(case_reference=ref, priority=priority, handling_code=1),
        offence=pb.LocalizedText(vi="x", zh="y"))).to_dict()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_urgent_message_reaches_every_open_page_within_5_s(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    secret = web_user(pair, HEKOU, "officer", exists=True)
    web_user(pair, HEKOU, "auditor", "auditor", exists=True, totp=False)
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        officer, auditor = Browser(pair.api(HEKOU)), Browser(pair.api(HEKOU))
        try:
            assert (await officer.sign_in("officer", secret))[0] == 303
            assert (await auditor.sign_in("auditor", None))[0] == 303
            await auditor.get("/app/")
            assert (await auditor.post("/app/lang", {"lang": "zh"}))[0] == 303
            r1 = await officer.s.get(officer.base + "/app/alerts")
            r2 = await auditor.s.get(auditor.base + "/app/alerts")
            assert r1.status == 200 and r1.headers["Content-Type"] == "text/event-stream"
            assert r1.headers["Cache-Control"] == "no-store"
            s1, s2 = EventStream(r1), EventStream(r2)
            assert await s1.next() == ("unread", {"unread": 0, "urgent_unread": 0})
            assert (await s2.next())[0] == "unread"
            async with aiohttp.ClientSession() as http:
                lc = pair.officer(http, LAOCAI)
                await lc.send([HEKOU], _notice(1, "ROUTINE-1"))
                name, data = await asyncio.wait_for(s1.next(), 20)
                assert (name, data) == ("unread", {"unread": 1, "urgent_unread": 0})
                sent = time.monotonic()
                mid = await lc.send([HEKOU], _notice(3, "URGENT-1"))
                name, data = await asyncio.wait_for(s1.next(), 5)
                delay = time.monotonic() - sent
            assert delay < 5
            assert name == "urgent"
            assert data["unread"] == 2 and data["urgent_unread"] == 1
            assert data["href"] == f"/app/messages/{mid}"
            assert "hỏa tốc" in data["text"] and "URGENT-1" in data["text"]
            await asyncio.wait_for(s2.next(), 5)  # the routine one
            name, data = await asyncio.wait_for(s2.next(), 5)
            assert name == "urgent" and data["href"] == ""  # an auditor never opens content
            assert "特急" in data["text"]
            # the page itself carries the stream's address, the banner and the count
            _, html, _ = await officer.get("/app/")
            assert 'data-alerts="/app/alerts"' in html and 'id="alert-banner"' in html
            r1.close()
            r2.close()
        finally:
            await officer.close()
            await auditor.close()
    finally:
        await pair.close()


async def test_the_stream_ends_with_the_session_and_with_the_gateway(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_alerts, "PING_S", 0.2)
    pair = Pair(tmp_path, "sqlite")
    secret = web_user(pair, HEKOU, "officer", exists=True)
    try:
        gw = await pair.start(HEKOU)
        b = Browser(pair.api(HEKOU))
        try:
            assert (await b.sign_in("officer", secret))[0] == 303
            # signed out elsewhere (the same cookie): the stream says so and ends
            r = await b.s.get(b.base + "/app/alerts")
            s = EventStream(r)
            assert (await s.next())[0] == "unread"
            await b.get("/app/")
            assert (await b.post("/app/signout", {}))[0] == 303
            assert (await asyncio.wait_for(s.next(), 5))[0] == "ended"
            with pytest.raises(EOFError):
                await asyncio.wait_for(s.next(), 5)
            r.close()
            # no session: no stream
            async with b.s.get(b.base + "/app/alerts", allow_redirects=False) as r:
                assert r.status == 303
            # a live stream ends when the gateway stops (and does not hold the stop up)
            b2 = Browser(pair.api(HEKOU))
            assert (await b2.sign_in("officer", secret, step=1))[0] == 303
            r = await b2.s.get(b2.base + "/app/alerts")
            s = EventStream(r)
            await s.next()
            assert gw.alerts.subscribers == 1
            t0 = time.monotonic()
            await pair.stop(HEKOU)
            assert time.monotonic() - t0 < 5
            with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
                await asyncio.wait_for(s.next(), 5)
            r.close()
            await b2.close()
        finally:
            await b.close()
    finally:
        await pair.close()
