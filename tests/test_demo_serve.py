"""``blo-gateway demo --serve`` as a newcomer runs it: the walk-through, then both gateways
keep running with a sign-in for every role printed; a sign-in over HTTP with the printed
password (and, for an officer, the code ``blo-gateway users totp-code`` gives) reaches the
dashboard; Ctrl-C stops both and the demo exits 0. ``users totp-code`` refuses any home that
is not a demo's."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from harness import Pair
from test_cli import run
from webtools import Browser

from gateway.protocol.scenario import LAOCAI


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError("the demo did not print " + pattern + ":\n" + "\n".join(lines[-40:]))


async def test_demo_serve_prints_sign_ins_that_work_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--serve", "--workdir", str(tmp_path / "d")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    try:
        out = _read_until(proc, r"Ctrl-C stops both", timeout=240)
        text = "\n".join(out)
        assert "demo complete" in text
        urls = re.findall(r"(http://127\.0\.0\.1:\d+/app/)", text)
        assert len(urls) == 2
        lc_block = text.split(urls[0])[1].split(urls[1])[0]
        creds = dict(re.findall(r"user (\S+)\s+password (\S+)", lc_block))
        assert set(creds) >= {"officer", "auditor", "admin"}
        m = re.search(r"current code: (blo-gateway users totp-code --home (\S+) --name officer)",
                      lc_block)
        assert m, lc_block
        home = m.group(2)
        for user in ("officer", "auditor", "admin"):
            secret_code = ""
            if user == "officer":
                secret_code = run("users", "totp-code", "--home", home, "--name", user,
                                  cwd=tmp_path).stdout.strip()
                assert re.fullmatch(r"\d{6}", secret_code)
            b = Browser(urls[0].removesuffix("/app/"))
            try:
                await b.get("/app/signin")
                st, _, h = await b.post("/app/signin", {"user": user,
                                                        "password": creds[user],
                                                        "code": secret_code})
                assert (st, h.get("Location")) == (303, "/app/"), (user, st)
                st, page, _ = await b.get("/app/")
                assert st == 200 and "Trang chính" in page
            finally:
                await b.close()
        # Ctrl-C: both gateways stop, the demo exits 0
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, rest
        assert "stopping both gateways" in rest
        async with aiohttp.ClientSession() as http:
            try:
                async with http.get(urls[0]) as r:
                    raise AssertionError(f"still answering: {r.status}")
            except aiohttp.ClientConnectionError:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_totp_code_is_refused_outside_a_demo_home(tmp_path: Path) -> None:
    pair = Pair(tmp_path, "sqlite")
    r = run("users", "totp-code", "--home", str(pair.homes[LAOCAI]), "--name", "officer",
            cwd=tmp_path, ok=False)
    assert r.returncode == 2 and "not a demo's home" in r.stderr
