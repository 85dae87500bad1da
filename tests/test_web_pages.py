"""The statistics, auditor and admin pages over real HTTP against real gateways, as a browser
sends the requests: each role sees what it may (and gets a logged 403 elsewhere), the
figures match the JSON API's, and the downloads are what they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from harness import BACKENDS, Pair, wait_for
from webtools import Browser, web_user

from gateway.node.gateway import Gateway
from gateway.protocol.messages import Payload, pb
from gateway.protocol.scenario import HEKOU, LAOCAI


def _notice(ref: str) -> dict[str, Any]:
    return Payload(pb.CaseNotice(
        context=pb.MessageContext(case_reference=ref, priority=2, handling_code=1),
        offence=pb.LocalizedText(vi="x", zh="y"))).to_dict()


async def _leaves(gw: Gateway) -> list[dict[str, Any]]:
    bundle = await gw.store.call(gw.store.sync.export_audit)
    return [json.loads(bytes(x)) for x in bundle["leaves"]]


async def _signed_in(pair: Pair, office: str, user: str, role: str, *,
                     totp: bool = True, lang: str = "vi") -> Browser:
    secret = web_user(pair, office, user, role, exists=user in ("officer", "auditor"),
                      totp=totp)
    b = Browser(pair.api(office))
    assert (await b.sign_in(user, secret))[0] == 303
    await b.get("/app/")
    if lang != "vi":
        assert (await b.post("/app/lang", {"lang": lang}))[0] == 303
    return b


@pytest.mark.parametrize("backend", BACKENDS)
async def test_statistics_page_shows_the_figures_against_the_targets(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        async with aiohttp.ClientSession() as http:
            lc = pair.officer(http, LAOCAI)
            for i in range(3):
                await lc.send([HEKOU], _notice(f"STAT-{i}"))
            hko = pair.officer(http, HEKOU)

            async def three() -> bool:
                return len(await hko.inbox()) == 3
            await wait_for(three, what="three messages in Hekou")
        officer = await _signed_in(pair, HEKOU, "officer", "officer")
        auditor = await _signed_in(pair, HEKOU, "auditor", "auditor", totp=False, lang="zh")
        admin = await _signed_in(pair, HEKOU, "root", "admin", totp=False)
        try:
            st, html, h = await officer.get("/app/stats")
            assert st == 200 and h["Cache-Control"] == "no-store"
            assert "Thống kê công tác phối hợp" in html and 'id="chart"' in html
            assert "<svg" in html and html.count('class="bar"') == 2 + 1  # 2 targets, 1 type
            assert "100 %" in html and "&gt; 90 %" in html
            assert "Chưa đạt" in html  # three notices received, none resolved: 0 %
            period = html.split('id="period">')[1].split(":")[0]
            # the CSV and PDF links give the same period's figures
            st, csv, h = await officer.get(f"/app/stats.csv?period={period}")
            assert st == 200 and h["Content-Type"].startswith("text/csv")
            assert "case_notice,received,sent,3" in csv
            async with officer.s.get(officer.base + f"/app/stats.pdf?period={period}") as r:
                assert r.status == 200 and (await r.read()).startswith(b"%PDF")
            # a picked period: a year; the figures are the JSON API's for it
            year, _, n = period.partition("-Q")
            st, html, _ = await officer.get(f"/app/stats?kind=year&year={year}")
            assert st == 200 and f'id="period">{year}:' in html
            st, html, _ = await officer.get(f"/app/stats?kind=half&year={year}&n=1")
            assert st == 200 and f'id="period">{year}-H1:' in html
            async with aiohttp.ClientSession() as http:
                api = await pair.officer(http, HEKOU).call(
                    "GET", f"/api/v1/stats?period={period}", expect=200)
            st, html, _ = await officer.get(f"/app/stats?kind=quarter&year={year}&n={n}")
            assert api["items"] == 3 and "<td>3</td>" in html
            st, _, _ = await officer.get("/app/stats?kind=decade")
            assert st == 400
            # the auditor sees it, in Chinese; the admin does not (and it is logged)
            st, html, _ = await auditor.get("/app/stats")
            assert st == 200 and "协作工作统计" in html and "未达标" in html
            st, _, _ = await admin.get("/app/stats")
            assert st == 403
            st, _, _ = await admin.get(f"/app/stats.csv?period={period}")
            assert st == 403
        finally:
            for b in (officer, auditor, admin):
                await b.close()
        refused = [x for x in await _leaves(hk) if x["type"] == "web.refused"]
        assert [(x["code"], x.get("kind"), x.get("user")) for x in refused] == \
            [("FORBIDDEN", "stats", "root")] * 2
    finally:
        await pair.close()


def _tamper(tar: bytes) -> bytes:
    """The bundle with one audit leaf edited (a message id changed by one digit)."""
    import io
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar)) as src, \
            tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == "leaves.jsonl":
                i = data.index(b'"message_id":"') + 14
                data = data[:i] + (b"1" if data[i:i + 1] != b"1" else b"2") + data[i + 1:]
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    return out.getvalue()


async def _upload(b: Browser, files: list[bytes], *, csrf: bool = True) -> tuple[int, str]:
    form = aiohttp.FormData()
    if csrf:
        form.add_field("csrf", b.csrf)
    for i, data in enumerate(files):
        form.add_field("bundle", data, filename=f"b{i}.tar", content_type="application/x-tar")
    async with b.s.post(b.base + "/app/audit/verify", data=form, allow_redirects=False) as r:
        return r.status, await r.text()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_auditor_page_shows_the_log_and_reads_exports_and_verifies_bundles(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        async with aiohttp.ClientSession() as http:
            mid = await pair.officer(http, LAOCAI).send([HEKOU], _notice("AUD-1"))
            hko = pair.officer(http, HEKOU)

            async def arrived() -> bool:
                return len(await hko.inbox()) == 1
            await wait_for(arrived, what="the message in Hekou")
        officer = await _signed_in(pair, HEKOU, "officer", "officer")
        auditor = await _signed_in(pair, HEKOU, "auditor", "auditor", totp=False)
        try:
            assert (await officer.get(f"/app/messages/{mid}"))[0] == 200
            st, html, _ = await auditor.get("/app/audit")
            assert st == 200 and "Nhật ký kiểm toán của cổng này" in html
            assert f"<code>{mid}</code>" in html and "<td>officer</td>" in html
            size = int(html.split('id="log-size">')[1].split("<")[0])
            assert size > 5
            async with auditor.s.get(auditor.base + "/app/audit/bundle") as r:
                assert r.status == 200 and r.content_type == "application/x-tar"
                tar = await r.read()
            st, html = await _upload(auditor, [tar])
            assert st == 200
            verdict = html.split('id="verdict"')[1].split(">")[1].split("<")[0]
            assert verdict == "PASS", html.split('id="report">')[1][:3000]
            assert "Toàn vẹn" in html
            st, html = await _upload(auditor, [_tamper(tar)])
            assert st == 200 and ">FAIL tampered<" in html and "AUDIT_" in html
            # no form token: refused before the file is read; a file too large: refused
            st, _ = await _upload(auditor, [tar], csrf=False)
            assert st == 403
            from gateway.node.web import pages_audit

            monkeypatch.setattr(pages_audit, "MAX_UPLOAD", 1024)
            st, text = await _upload(auditor, [tar])
            assert st == 413 and "TOO_LARGE" in text
            # an officer does not see the auditor's page
            assert (await officer.get("/app/audit"))[0] == 403
            assert (await officer.get("/app/audit/bundle"))[0] == 403
        finally:
            await officer.close()
            await auditor.close()
        refused = [(x["code"], x.get("kind")) for x in await _leaves(hk)
                   if x["type"] == "web.refused"]
        assert refused == [("CSRF_REJECTED", None), ("FORBIDDEN", "audit"),
                           ("FORBIDDEN", "audit_bundle")]
    finally:
        await pair.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_admin_page_disables_enables_and_ends_sessions_each_an_audit_leaf(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        hk = await pair.start(HEKOU)
        officer = await _signed_in(pair, HEKOU, "officer", "officer")
        admin = await _signed_in(pair, HEKOU, "root", "admin", totp=False, lang="zh")
        try:
            st, html, _ = await admin.get("/app/admin")
            assert st == 200 and "系统管理" in html and "信任目录" in html
            d = hk.directory
            assert f'id="serial">{d.serial}<' in html
            assert all(k.key_id in html for o in d.offices.values() for k in o.keys)
            row = html.split('id="user-officer">')[1].split("</tr>")[0]
            assert '<td class="sessions">1</td>' in row and "<td>是</td>" in row  # TOTP
            # end the officer's sessions: its page is gone at once
            st, _, h = await admin.post("/app/admin/users", {"user": "officer",
                                                             "action": "signout"})
            assert st == 303 and h["Location"] == "/app/admin?done=signout"
            assert (await officer.get("/app/"))[0] == 303
            # disable: the bearer token fails too; enable: it works again
            async with aiohttp.ClientSession() as http:
                o = pair.officer(http, HEKOU)
                assert (await admin.post("/app/admin/users", {"user": "officer",
                                                              "action": "disable"}))[0] == 303
                await o.call("GET", "/api/v1/inbox", expect=401)
                st, html, _ = await admin.get("/app/admin")
                assert "已停用" in html.split('id="user-officer">')[1].split("</tr>")[0]
                assert (await admin.post("/app/admin/users", {"user": "officer",
                                                              "action": "enable"}))[0] == 303
                await o.call("GET", "/api/v1/inbox", expect=200)
            # no lock-out of oneself, no unknown user, no unknown action, no CSRF-less post
            assert (await admin.post("/app/admin/users", {"user": "root",
                                                          "action": "disable"}))[0] == 409
            assert (await admin.post("/app/admin/users", {"user": "nobody",
                                                          "action": "disable"}))[0] == 404
            assert (await admin.post("/app/admin/users", {"user": "officer",
                                                          "action": "remove"}))[0] == 400
            assert (await admin.post("/app/admin/users", {"user": "officer",
                                                          "action": "disable"},
                                     csrf=False))[0] == 403
            # an auditor does not see the admin page
            auditor = await _signed_in(pair, HEKOU, "auditor", "auditor", totp=False)
            assert (await auditor.get("/app/admin"))[0] == 403
            await auditor.close()
        finally:
            await officer.close()
            await admin.close()
        leaves = await _leaves(hk)
        assert [(x["type"], x.get("user")) for x in leaves if x["type"] in (
            "web.sessions_ended", "user.disabled", "user.enabled")] == [
            ("web.sessions_ended", "officer"), ("user.disabled", "officer"),
            ("user.enabled", "officer")]
        assert [x.get("kind") for x in leaves if x["type"] == "web.refused"
                and x["code"] == "FORBIDDEN"] == ["admin"]
    finally:
        await pair.close()
