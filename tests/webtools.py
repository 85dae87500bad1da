"""Helpers for the web app tests: users with a password and a second factor, a browser-like
HTTP client (cookies kept, forms posted as a browser posts them), and for the tests in a real
browser (Debian's chromium through Playwright) the browser, the marker that skips them
without it, signing in and screenshots."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
import pyotp
import pytest
from harness import Pair

from gateway.cli.web_users import enrol_totp, set_web_password
from gateway.node.home import add_user

PASSWORD = "correct horse battery staple"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.async_api import Page, async_playwright
except ImportError:  # pragma: no cover - the dev dependencies include playwright
    async_playwright = None  # type: ignore[assignment]
    Page = Any  # type: ignore[misc,assignment]

#: The marker of the tests in a real browser.
needs_browser = pytest.mark.skipif(
    async_playwright is None or not Path(CHROMIUM).exists(),
    reason="browser tests need playwright (pip, a dev dependency) and Debian's chromium "
           "(apt-get install chromium); .ci/run installs both")


def web_user(pair: Pair, office: str, name: str, role: str = "officer", *,
             totp: bool = True, exists: bool = False) -> str | None:
    """A user of ``office`` who can sign in to the web app; returns the TOTP secret."""
    home = pair.homes[office]
    if not exists:
        add_user(home, name, role)
    set_web_password(home, name, PASSWORD)
    return enrol_totp(home, name)[0] if totp else None


def code(secret: str | None, step: int = 0, now_s: float | None = None) -> str:
    """The TOTP code of ``step`` steps from now (each sign-in of a user needs a new step)."""
    if secret is None:
        return ""
    t = (time.time() if now_s is None else now_s) + 30 * step
    return pyotp.TOTP(secret).at(int(t))


def form_key(html: str) -> str:
    """The key a rendered compose form carries (``webauth.form_key``)."""
    m = re.search(r'name="form_key" value="([^"]+)"', html)
    assert m, "the compose form carries no form key"
    return m.group(1)


class Browser:
    """An HTTP client that keeps cookies like a browser and reads the CSRF token of a page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def close(self) -> None:
        await self.s.close()

    async def get(self, path: str, **kw: Any) -> tuple[int, str, Any]:
        async with self.s.get(self.base + path, allow_redirects=False, **kw) as r:
            text = await r.text()
            m = re.search(r'name="csrf" value="([^"]*)"', text)
            if m:
                self.csrf = m.group(1)
            return r.status, text, r.headers

    async def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]],
                   csrf: bool = True) -> tuple[int, str, Any]:
        items = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            items.append(("csrf", self.csrf))
        async with self.s.post(self.base + path, data=items, allow_redirects=False) as r:
            return r.status, await r.text(), r.headers

    async def sign_in(self, user: str, secret: str | None, *, step: int = 0,
                      password: str = PASSWORD) -> tuple[int, str, Any]:
        await self.get("/app/signin")
        return await self.post("/app/signin", {"user": user, "password": password,
                                               "code": code(secret, step)})


class EventStream:
    """A server-sent event stream read as a browser's EventSource reads it."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def next(self) -> tuple[str, dict[str, Any]]:
        """The next event (name, JSON data); comments and ``retry:`` lines are skipped."""
        import json

        event, data = "message", ""
        while True:
            line = (await self.resp.content.readline()).decode()
            if not line:
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                return event, json.loads(data)


async def sign_in(page: Page, base: str, user: str, secret: str | None, lang: str) -> None:
    """Sign in to the web app in the browser (password and TOTP code), in ``lang``."""
    await page.goto(f"{base}/app/signin?lang={lang}")
    await page.fill("#user", user)
    await page.fill("#password", PASSWORD)
    await page.fill("#code", code(secret))
    await page.click("#signin")
    await page.wait_for_url(f"{base}/app/")


async def shot(page: Page, shots: Path, name: str) -> None:
    """A full-page screenshot ``name``.png in ``shots``."""
    await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
