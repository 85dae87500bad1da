"""Handling codes and consent decide what may be forwarded to a third office."""

from __future__ import annotations

import aiohttp
import pytest
from harness import BACKENDS, Officer, Pair, wait_for

from gateway.protocol.messages import Payload, pb
from gateway.protocol.release import released_copy
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads


@pytest.fixture(params=BACKENDS)
async def trio(request, tmp_path):
    p = Pair(tmp_path, request.param, checkpoint_interval_s=3600)
    yield p
    await p.close()


def test_consent_decides_which_person_fields_are_released():
    request = case_payloads()[2].payload  # consent given for name and home address only
    body = released_copy(request).body
    assert body.person.name.full_name == "Giàng Thị Mai"
    assert not body.person.HasField("physical_description")
    assert body.person.ethnicity == 0 and body.person.approximate_age == 0
    refused = pb.VictimIdentificationRequest()
    refused.CopyFrom(request.body)
    refused.consent.status = 2  # refused
    body = released_copy(Payload(refused)).body
    assert not body.HasField("person") and not body.HasField("account")
    other = case_payloads()[9].payload
    assert released_copy(other) == other


async def _delivered(o: Officer, mid: str) -> bool:
    return all(d["state"] == "delivered" for d in (await o.status(mid))["deliveries"])


async def test_forwarding_respects_handling_codes_and_consent(trio):
    for office in (LAOCAI, HEKOU, LAOCAI_BORDER_GUARD):
        await trio.start(office)
    async with aiohttp.ClientSession() as s:
        lc = Officer(s, trio.api(LAOCAI), trio.tokens[LAOCAI]["officer"])
        hk = Officer(s, trio.api(HEKOU), trio.tokens[HEKOU]["officer"])
        bg = Officer(s, trio.api(LAOCAI_BORDER_GUARD), trio.tokens[LAOCAI_BORDER_GUARD]["officer"])
        # H2 (no onward transfer): Lào Cai may not pass Hekou's request to the Border Guard.
        h2 = await hk.send([LAOCAI], case_payloads()[2].payload.to_dict())
        await wait_for(lambda: _delivered(hk, h2))
        data = await lc.call("POST", f"/api/v1/inbox/{h2}/forward",
                             {"to": [LAOCAI_BORDER_GUARD]}, expect=403)
        assert data["code"] == "HANDLING_RESTRICTED" and HEKOU in data["message"]
        # H0: allowed, and only the consented details of the person go along.
        h0 = pb.VictimIdentificationRequest()
        h0.CopyFrom(case_payloads()[2].payload.body)
        h0.context.handling_code = 1
        mid = await hk.send([LAOCAI], Payload(h0).to_dict())
        await wait_for(lambda: _delivered(hk, mid))
        res = await lc.call("POST", f"/api/v1/inbox/{mid}/forward",
                            {"to": [LAOCAI_BORDER_GUARD]}, expect=201)
        await wait_for(lambda: _delivered(lc, res["message_id"]))
        shown = await bg.call("GET", f"/api/v1/inbox/{res['message_id']}", expect=200)
        person = shown["payload"]["body"]["person"]
        assert set(person) == {"name"}  # the home address was not given in this request
        assert shown["from"] == LAOCAI
