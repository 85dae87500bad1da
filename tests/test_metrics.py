"""/metrics on a real gateway pair: who may read it, what it counts, and that every metric the
alert rules in deploy/prometheus/ name is exported (checked with promtool where installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
from harness import BACKENDS, Officer, Pair, wait_for
from prometheus_client.parser import text_string_to_metric_families

from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

RULES = Path(__file__).parent.parent / "deploy" / "prometheus" / "blo-gateway.rules.yml"


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def scrape(session: aiohttp.ClientSession, pair: Pair, office: str,
                 user: str = "auditor") -> str:
    async with session.get(pair.api(office) + "/metrics", headers={
            "Authorization": f"Bearer {pair.tokens[office][user]}"}) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith("text/plain; version=")
        return await r.text()


async def test_metrics_count_what_happens_and_cover_the_alert_rules(pair):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    async with aiohttp.ClientSession() as session:
        o = Officer(session, pair.api(LAOCAI), pair.tokens[LAOCAI]["officer"])
        mids = [await o.send([HEKOU], case_payloads()[0].payload.to_dict()) for _ in range(2)]

        async def delivered() -> bool:
            states = [(await o.status(m))["deliveries"][0]["state"] for m in mids]
            return states == ["delivered"] * len(mids)

        await wait_for(delivered, what="delivery")
        # Who may read: auditor and admin; an officer is refused, no token is refused.
        async with session.get(pair.api(LAOCAI) + "/metrics", headers=o.h) as r:
            assert r.status == 403 and (await r.json())["code"] == "FORBIDDEN"
        async with session.get(pair.api(LAOCAI) + "/metrics") as r:
            assert r.status == 401
        # A peer request without a signature: a refusal on the peer API.
        async with session.get(pair.peer(LAOCAI) + "/peer/v1/ping") as r:
            peer_code = (await r.json())["code"]
            assert r.status >= 400
        text = await scrape(session, pair, LAOCAI)

    found = samples(text)
    slug = case_payloads()[0].payload.message_type.slug
    assert value(found, "blo_messages", type=slug, direction="out", state="delivered") == 2
    assert value(found, "blo_delivery_seconds_count", peer=HEKOU) == 2
    assert value(found, "blo_receipt_round_trip_seconds_count", peer=HEKOU) >= 1
    assert value(found, "blo_queue_depth", peer=HEKOU) == 0
    assert value(found, "blo_signins_total", role="officer") == 1
    assert value(found, "blo_signins_total", role="auditor") == 1
    assert value(found, "blo_refusals_total", api="officer", code="FORBIDDEN") == 1
    assert value(found, "blo_refusals_total", api="officer", code="UNAUTHORIZED") == 1
    assert value(found, "blo_refusals_total", api="peer", code=peer_code) == 1
    assert value(found, "blo_audit_log_size") > 0
    assert value(found, "blo_connections_total", listener="peer", event="accepted") >= 1
    assert value(found, "blo_peer_up", peer=HEKOU) == 1
    assert value(found, "blo_directory_expiry_seconds") > 86400
    assert value(found, "blo_overdue_cases", kind="request") == 0
    assert any(k[0] == "blo_store_call_seconds_count" for k in found)
    # Hekou received them: direction "in", not yet opened.
    async with aiohttp.ClientSession() as session:
        there = samples(await scrape(session, pair, HEKOU))
    assert value(there, "blo_messages", type=slug, direction="in", state="unopened") == 2
    # Nothing about one message: no ids, no case references.
    ref = case_payloads()[0].payload.context.case_reference
    assert not any(m in text for m in mids) and (not ref or ref not in text)

    # Every metric the alert rules use is exported by this running gateway.
    names = {n for fam in text_string_to_metric_families(text) for n in
             {fam.name, *(s.name for s in fam.samples)}}
    referenced = set(re.findall(r"\bblo_[a-z_]+", RULES.read_text()))
    assert referenced, "the rules name no metric"
    assert referenced <= names, referenced - names

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus); "
                    "metric names were checked without it")
    res = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
