"""Each office counts and shows time in its own zone: Lào Cai in Asia/Ho_Chi_Minh (UTC+7),
Hekou in Asia/Shanghai (UTC+8). Two real gateways on an injected clock at the quarter's edge."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from harness import BACKENDS, Pair
from test_workflow import _agreement, _send_delivered, fonts_installed

from gateway.node.clock import FakeClock
from gateway.protocol.errors import GatewayError
from gateway.protocol.localtime import local_time, office_zone, parse_period, zoned_times
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

#: 23:30 on 31 March 2026 in Lào Cai = 00:30 on 1 April in Hekou
EDGE_MS = int(datetime(2026, 3, 31, 16, 30, tzinfo=UTC).timestamp() * 1000)
HOUR = 3600_000
LC_ZONE, HK_ZONE = "Asia/Ho_Chi_Minh", "Asia/Shanghai"


def test_periods_start_at_local_midnight():
    vn, cn = ZoneInfo(LC_ZONE), ZoneInfo(HK_ZONE)
    q1 = parse_period("2026-Q1", vn)
    assert (q1.start_ms, q1.end_ms) == (
        int(datetime(2025, 12, 31, 17, tzinfo=UTC).timestamp() * 1000),
        int(datetime(2026, 3, 31, 17, tzinfo=UTC).timestamp() * 1000))
    assert q1.start_ms <= EDGE_MS < q1.end_ms
    q2 = parse_period("2026-Q2", cn)
    assert q2.start_ms <= EDGE_MS < q2.end_ms
    assert parse_period("2026-H2", cn).end_ms == parse_period("2027", cn).start_ms
    assert parse_period("2026-04-01", cn).start_ms == q2.start_ms
    for bad in ("2026-Q5", "2026-H3", "26", "2026-13-01", "Q1", ""):
        with pytest.raises(GatewayError) as e:
            parse_period(bad, cn)
        assert e.value.code == "MALFORMED"
    assert local_time(EDGE_MS, vn) == "2026-03-31 23:30 +07:00 Asia/Ho_Chi_Minh"
    assert zoned_times(EDGE_MS, [vn, cn, vn]) == (
        "2026-03-31 23:30 +07:00 Asia/Ho_Chi_Minh · 2026-04-01 00:30 +08:00 Asia/Shanghai")


def test_office_zone_comes_from_config_then_directory_then_country():
    class Office:
        def __init__(self, country: str, time_zone: str = "") -> None:
            self.country, self.time_zone = country, time_zone

    assert office_zone(Office("CN")).key == HK_ZONE
    assert office_zone(Office("VN")).key == LC_ZONE
    assert office_zone(Office("CN", "Asia/Urumqi")).key == "Asia/Urumqi"
    assert office_zone(Office("CN", "Asia/Urumqi"), "Asia/Shanghai").key == HK_ZONE
    assert office_zone(None).key == "UTC"


async def _cli(*args: str) -> str:
    """The real command line, without blocking the gateways' event loop."""
    p = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    out, err = await p.communicate()
    assert p.returncode == 0, err.decode()
    return out.decode()


def _pdf_text(pdf: bytes, tmp_path, name: str) -> str | None:
    if not (fonts_installed() and shutil.which("pdftotext")):
        return None
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_same_instant_is_q1_in_lao_cai_and_q2_in_hekou(tmp_path, backend):
    pair = Pair(tmp_path, backend, now_ms=EDGE_MS, checkpoint_interval_s=3600)
    try:
        for office in (LAOCAI, HEKOU):
            await pair.start(office, clock=FakeClock(EDGE_MS))
        async with aiohttp.ClientSession() as s:
            lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)
            # A hotline report at 23:30 on 31 March, Lào Cai time.
            await _send_delivered(lc, HEKOU, case_payloads()[0].payload)
            expect = {(LAOCAI, "2026-Q1"): 1, (LAOCAI, "2026-Q2"): 0,
                      (HEKOU, "2026-Q1"): 0, (HEKOU, "2026-Q2"): 1,
                      (LAOCAI, "2026-H1"): 1, (HEKOU, "2026-H1"): 1,
                      (LAOCAI, "2026"): 1, (HEKOU, "2026"): 1,
                      (LAOCAI, "2026-03-31"): 1, (HEKOU, "2026-03-31"): 0,
                      (HEKOU, "2026-04-01"): 1}
            for (office, period), n in expect.items():
                o = pair.officer(s, office)
                f = await o.call("GET", f"/api/v1/stats?period={period}", expect=200)
                assert f["items"] == n, (office, period, f)
                assert f["time_zone"] == (LC_ZONE if office == LAOCAI else HK_ZONE)
                assert f["period"] == period
            f = await hk.call("GET", "/api/v1/stats?from=2026-03-31&to=2026-04-01", expect=200)
            assert f["items"] == 0 and f["hotline_reports_received"] == 0
            for bad in ("period=2026-Q5", "period=2026-Q1&from=2026-01-01&to=2026-02-01",
                        "from=2026-04-01&to=2026-03-01", "from=2026-04-01"):
                err = await hk.call("GET", f"/api/v1/stats?{bad}", expect=400)
                assert err["code"] == "MALFORMED", bad
            async with s.get(pair.api(HEKOU) + "/api/v1/stats.pdf?period=2026-Q2",
                             headers=hk.h) as r:
                stats_pdf = await r.read()

        # The command line prints each office's figures and times in its own zone, named.
        hk_home, lc_home = str(pair.homes[HEKOU]), str(pair.homes[LAOCAI])
        out = await _cli("stats", "--period", "2026-Q1", "--csv", "--home", hk_home)
        assert "items,0" in out and f"time_zone,{HK_ZONE}" in out
        out = await _cli("stats", "--period", "2026-Q1", "--csv", "--home", lc_home)
        assert "items,1" in out and f"time_zone,{LC_ZONE}" in out
        out = await _cli("inbox", "--home", hk_home)
        assert "received 2026-04-01 00:30 +08:00 Asia/Shanghai" in out, out
        due = EDGE_MS + 4 * HOUR  # urgent hotline report: answer within 4 h
        for home, zone in ((lc_home, LC_ZONE), (hk_home, HK_ZONE)):
            out = await _cli("cases", "--home", home)
            assert f"due {local_time(due, ZoneInfo(zone))}" in out, out
        text = _pdf_text(stats_pdf, tmp_path, "stats.pdf")
        if text is not None:
            assert "2026-Q2" in text and "Asia/Shanghai" in text
            assert "2026-04-01 00:00 +08:00" in text
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_deadline_shows_in_each_sides_local_time_in_one_handover_pdf(tmp_path, backend):
    pair = Pair(tmp_path, backend, now_ms=EDGE_MS, checkpoint_interval_s=3600)
    deadline = EDGE_MS + 24 * HOUR
    try:
        for office in (LAOCAI, HEKOU):
            await pair.start(office, clock=FakeClock(EDGE_MS))
        steps = case_payloads()
        async with aiohttp.ClientSession() as s:
            lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)
            plan = await _send_delivered(lc, HEKOU, steps[5].payload)
            await _send_delivered(hk, LAOCAI, _agreement(steps, plan))
            body = pb.HandoverRecord()
            body.CopyFrom(steps[8].replying_to(plan).body)
            body.context.deadline.CopyFrom(pb.ZonedTime(unix_millis=deadline,
                                                        utc_offset_minutes=420))
            record = await _send_delivered(lc, HEKOU, Payload(body))
            shown = await hk.call("GET", f"/api/v1/inbox/{record}?lang=zh", expect=200)
            async with s.get(pair.api(HEKOU) + f"/api/v1/records/{record}/pdf",
                             headers=hk.h) as r:
                if not fonts_installed():
                    assert r.status == 500
                    return
                assert r.status == 200
                pdf = await r.read()
        both = ("2026-04-01 23:30 +07:00 Asia/Ho_Chi_Minh",
                "2026-04-02 00:30 +08:00 Asia/Shanghai")
        assert " · ".join(both) in shown["text"]  # the sender's zone first, then the other's
        text = _pdf_text(pdf, tmp_path, "record.pdf")
        if text is not None:
            flat = " ".join(text.split())
            for expected in ("2026-04-01 23:30 +07:00", "2026-04-02 00:30 +08:00",
                             "Asia/Ho_Chi_Minh", "Asia/Shanghai", "Biên bản bàn giao", "交接记录"):
                assert expected in flat, (expected, flat)
    finally:
        await pair.close()


def test_a_directory_entry_may_carry_the_office_zone_and_a_bad_one_is_refused(tmp_path):
    import dataclasses
    import time

    from gateway.cli.provision import DEFAULT_OFFICES, provision
    from gateway.node.config import load_config
    from gateway.node.gateway import Gateway
    from gateway.node.home import init_home
    from gateway.protocol.identity import Keyring, build_directory, sign_directory

    now = int(time.time() * 1000)
    offices = [dataclasses.replace(o, time_zone="Asia/Urumqi") if o.office_id == HEKOU else o
               for o in DEFAULT_OFFICES]
    net = provision(now, offices=offices)
    d = net.directory()
    assert d.offices[HEKOU].time_zone == "Asia/Urumqi"
    assert office_zone(d.offices[HEKOU]).key == "Asia/Urumqi"
    assert office_zone(d.offices[LAOCAI]).key == LC_ZONE  # none given: the country's
    # The gateway takes its zone from its directory entry unless gateway.toml names one.
    init_home(tmp_path / "a", keyring=net.keyrings[HEKOU], directory=net.directory_bytes,
              roots=net.roots)
    init_home(tmp_path / "b", keyring=net.keyrings[HEKOU], directory=net.directory_bytes,
              roots=net.roots, time_zone=HK_ZONE)
    for home, zone in (("a", "Asia/Urumqi"), ("b", HK_ZONE)):
        gw = Gateway(load_config(tmp_path / home))
        gw.load_identity()
        assert gw.zone.key == zone
    # A zone that is not an IANA name is refused when the entry is made and when it is read.
    ring = Keyring.generate("cn.test.blo", now_ms=now, valid_ms=HOUR)
    with pytest.raises(GatewayError) as e:
        ring.public_office(country="CN", name_vi="x", name_zh="x", role="liaison_office",
                           endpoint="", time_zone="UTC+8")
    assert e.value.code == "BAD_CONFIG"
    entry = ring.public_office(country="CN", name_vi="x", name_zh="x", role="liaison_office",
                               endpoint="")
    entry.time_zone = "Mars/Olympus_Mons"
    signed = build_directory([entry], serial=2, issued_at_ms=now - HOUR,
                             expires_at_ms=now + HOUR)
    for signer in net.root_signers:
        signed = sign_directory(signed, signer)
    with pytest.raises(GatewayError) as e:
        type(d).verify(signed, net.roots, now_ms=now)
    assert e.value.code == "BAD_DIRECTORY" and "Mars/Olympus_Mons" in e.value.message
