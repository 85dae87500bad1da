"""Real processes, killed with SIGKILL mid-delivery: nothing lost, nothing shown twice.
Also drives the officer CLI (send, status, inbox, show) against the running gateways."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from harness import BACKENDS, Pair

from gateway.cli.client import OfficerClient
from gateway.cli.demo import GatewayProcess
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads


@pytest.fixture(params=BACKENDS)
def procs(request, tmp_path):
    import asyncio

    pair = Pair(tmp_path, request.param, batch_size=2)
    gps = {o: GatewayProcess(pair.homes[o]) for o in (LAOCAI, HEKOU)}
    yield pair, gps
    for gp in gps.values():
        gp.stop(signal.SIGKILL)
    asyncio.run(pair.close())


def _wait(check, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_sender_and_receiver_mid_delivery(procs):
    pair, gps = procs
    lc = OfficerClient.for_home(pair.homes[LAOCAI], "officer")
    hk = OfficerClient.for_home(pair.homes[HEKOU], "officer")
    gps[LAOCAI].start()
    gps[LAOCAI].wait_healthy(lc)
    payload = case_payloads()[5].payload.to_dict()
    mids = {lc.send([HEKOU], payload)["message_id"] for _ in range(120)}
    gps[HEKOU].start()
    gps[HEKOU].wait_healthy(hk)
    _wait(lambda: len(hk.inbox(1000)) >= 20, what="some deliveries")
    gps[LAOCAI].stop(signal.SIGKILL)  # the sender dies mid-send
    gps[HEKOU].stop(signal.SIGKILL)   # and so does the receiver
    gps[HEKOU].start()
    gps[HEKOU].wait_healthy(hk)
    gps[LAOCAI].start()
    gps[LAOCAI].wait_healthy(lc)

    def all_delivered() -> bool:
        return all(all(d["state"] == "delivered" for d in lc.status(m)["deliveries"])
                   for m in mids)

    _wait(all_delivered, what="every message delivered")
    inbox = [m["message_id"] for m in hk.inbox(1000)]
    assert len(inbox) == len(set(inbox)) == len(mids)
    assert set(inbox) == mids


def test_officer_cli_against_running_gateways(procs, tmp_path):
    pair, gps = procs
    for office, gp in gps.items():
        gp.start()
        gp.wait_healthy(OfficerClient.for_home(pair.homes[office], "officer"))
    step = case_payloads()[2]  # identification request, Hekou -> Lào Cai
    f = tmp_path / "request.json"
    f.write_text(json.dumps(step.payload.to_dict(), ensure_ascii=False), encoding="utf-8")

    def cli(*args: str, home: str) -> str:
        r = subprocess.run([sys.executable, "-m", "gateway", *args, "--home", home],
                           capture_output=True, text=True, check=False,
                           env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        assert r.returncode == 0, r.stderr
        return r.stdout

    hekou, laocai = str(pair.homes[HEKOU]), str(pair.homes[LAOCAI])
    sent = json.loads(cli("send", str(f), "--to", LAOCAI, "--json", home=hekou))
    mid = sent["message_id"]
    assert sent["state"] == "queued"
    _wait(lambda: json.loads(cli("status", mid, "--json", home=hekou))["deliveries"][0]["state"]
          == "delivered", what="delivery")
    text = cli("status", mid, home=hekou)
    assert "delivered" in text and "verified" in text
    assert mid in cli("inbox", home=laocai)
    shown = cli("show", mid, "--lang", "zh", home=laocai)
    assert "受害人身份核查请求" in shown and "王氏梅" in shown
    shown_vi = cli("show", mid, "--lang", "vi", home=laocai)
    assert "Yêu cầu phối hợp xác minh" in shown_vi
    assert json.loads(cli("health", home=laocai))["peers"][HEKOU]["backlog"]["queued"] == 0
    # Errors come back with their code.
    r = subprocess.run([sys.executable, "-m", "gateway", "show", "0" * 32, "--home", laocai],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error NOT_FOUND")
