"""The web app's alert delay: from an urgent message's submission in Lào Cai to the
``urgent`` event on a Hekou page's alert stream (server-sent events).

    python bench/bench_alerts.py [--messages 100] [--gap 0.2]

Starts both gateways as separate processes (SQLite, fresh keys), signs a Hekou officer in
to the web app (password + TOTP, as a browser does), opens ``/app/alerts`` and submits
--messages urgent messages through the Lào Cai officer API, one every --gap seconds. For
each it records the time from the submission's answer (201: sealed and committed) to the
event naming it, and prints p50/p90/p99/max. Delivery is the sender's queue, the signed
batch request, verification and the receiving transaction; the alert itself is in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet import fleet

from gateway.cli.web_users import enrol_totp, set_web_password
from gateway.node.home import add_user
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI

PASSWORD = "bench password, long enough"


def urgent(i: int) -> dict[str, object]:
    return Payload(pb.CaseNotice(
        context=pb.MessageContext(case_reference=f"BENCH-{i}", priority=3, handling_code=1),
        offence=pb.LocalizedText(vi="khẩn", zh="紧急"))).to_dict()


async def run(lc_api: str, lc_token: str, hk_api: str, secret: str, n: int,
              gap: float) -> list[float]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as web, aiohttp.ClientSession() as api:
        async with web.get(hk_api + "/app/signin") as r:
            pre = re.search(r'name="csrf" value="([^"]*)"', await r.text())
        assert pre is not None
        async with web.post(hk_api + "/app/signin", allow_redirects=False, data={
                "csrf": pre.group(1), "user": "benchweb", "password": PASSWORD,
                "code": pyotp.TOTP(secret).now()}) as r:
            assert r.status == 303, r.status
        stream = await web.get(hk_api + "/app/alerts", timeout=aiohttp.ClientTimeout())
        assert stream.status == 200
        arrived: dict[str, float] = {}

        async def read() -> None:
            event = ""
            async for raw in stream.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "urgent":
                    href = json.loads(line[6:])["href"]
                    arrived[href.rsplit("/", 1)[1]] = time.perf_counter()

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        delays = []
        headers = {"Authorization": f"Bearer {lc_token}"}
        for i in range(n):
            async with api.post(lc_api + "/api/v1/messages", headers=headers,
                                json={"to": [HEKOU], "payload": urgent(i)}) as r:
                assert r.status == 201, await r.text()
                mid = (await r.json())["message_id"]
            sent = time.perf_counter()
            deadline = sent + 30
            while mid not in arrived:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"no alert for message {i}")
                await asyncio.sleep(0.002)
            delays.append(arrived[mid] - sent)
            await asyncio.sleep(gap)
        reader.cancel()
        stream.close()
        return delays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--gap", type=float, default=0.2)
    a = ap.parse_args()
    secret: list[str] = []

    def web_user(office: str, home: Path) -> None:
        if office == HEKOU:
            add_user(home, "benchweb", "officer")
            set_web_password(home, "benchweb", PASSWORD)
            secret.append(enrol_totp(home, "benchweb")[0])

    with tempfile.TemporaryDirectory(prefix="blo-bench-") as tmp, \
            fleet(tmp, [LAOCAI, HEKOU], prepare=web_user) as f:
        delays = asyncio.run(run(f.api(LAOCAI), f.tokens[LAOCAI], f.api(HEKOU), secret[0],
                                 a.messages, a.gap))
    ms = sorted(d * 1000 for d in delays)
    q = statistics.quantiles(ms, n=100)
    print(f"alert delay over {len(ms)} urgent messages (submission answered -> SSE event): "
          f"p50 {q[49]:.1f} ms  p90 {q[89]:.1f} ms  p99 {q[98]:.1f} ms  max {ms[-1]:.1f} ms")


if __name__ == "__main__":
    main()
