"""A peer's Retry-After is a hint, not an order: capped at retry_cap_ms, ignored unless it is
ASCII digits or an HTTP date. A fake peer (a small aiohttp server) answers 503/429."""

from __future__ import annotations

import email.utils
import time

import aiohttp
import pytest
from aiohttp import web
from harness import BACKENDS, Pair, wait_for

from gateway.cli.demo import free_port
from gateway.node.clock import FakeClock
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

CAP_MS, BASE_MS = 1000, 100


@pytest.mark.parametrize("backend", BACKENDS)
async def test_retry_after_from_a_peer_is_capped_and_checked(tmp_path, backend):
    now = int(time.time() * 1000)
    answers = [  # (status, Retry-After, expected delay range in ms)
        (503, "999999", (CAP_MS, CAP_MS)),                 # 11.6 days: capped
        (429, "garbage", (160, 240)),                      # ignored: backoff 2·base ±20 %
        (503, "\uff11\uff12", (320, 480)),                 # fullwidth "12": not ASCII digits
        (429, email.utils.formatdate(now / 1000 + 86400, usegmt=True), (CAP_MS, CAP_MS)),
        (503, "0", (BASE_MS, BASE_MS)),                    # no hot loop on "retry now"
    ]
    seen: list[int] = []

    async def envelopes(request: web.Request) -> web.Response:
        await request.read()
        status, header, _ = answers[min(len(seen), len(answers) - 1)]
        seen.append(status)
        return web.json_response({"code": "PEER_UNAVAILABLE", "message": "busy"},
                                 status=status, headers={"Retry-After": header})

    app = web.Application()
    app.router.add_post("/peer/v1/envelopes", envelopes)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pair = Pair(tmp_path, backend, retry_base_ms=BASE_MS, retry_cap_ms=CAP_MS,
                checkpoint_interval_s=3600, peer_urls={HEKOU: f"http://127.0.0.1:{port}"})
    clock = FakeClock(now)
    try:
        gw = await pair.start(LAOCAI, clock=clock)
        async with aiohttp.ClientSession() as s:
            await pair.officer(s, LAOCAI).send([HEKOU], case_payloads()[0].payload.to_dict())
        for n, (status, header, (lo, hi)) in enumerate(answers, start=1):
            async def failed(n: int = n) -> bool:
                st = await gw.store.call(gw.store.sync.peer_get, HEKOU)
                return int(st["failures"]) >= n
            await wait_for(failed, what=f"answer {n}")
            st = await gw.store.call(gw.store.sync.peer_get, HEKOU)
            delay = int(st["next_attempt_ms"]) - clock.now_ms()
            assert lo <= delay <= hi, (status, header, delay)
            clock.advance(CAP_MS + 1)  # the next attempt is due
            gw.deliveries[HEKOU].wake.set()
        assert seen[:len(answers)] == [a[0] for a in answers]
    finally:
        await pair.close()
        await runner.cleanup()
