"""The auditor's page: this gateway's log (size, latest checkpoint and who signed it, how far
each peer cosigned, alerts), who opened which message and when (metadata only), the audit
bundle to download, and an uploaded bundle verified with the offline verifier.

An uploaded bundle (one, or both sides') is checked against the trust roots pinned in this
gateway's own ``roots.json``, never the roots inside the bundle. The upload is streamed to a
temporary directory and refused past ``MAX_UPLOAD`` bytes per file (``MAX_FILES`` files),
before anything is parsed; the form's CSRF token is its first part.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import BodyPartReader, web

from gateway.audit.verify import verify_bundles
from gateway.node.bundle import export_bundle
from gateway.node.web.context import SESSION, WebContext
from gateway.protocol.errors import Malformed, PayloadTooLarge
from gateway.views.audit_report import render_report

__all__ = ["MAX_FILES", "MAX_UPLOAD", "ROLES", "UPLOAD_PATH", "add_routes"]

ROLES = ("auditor",)
MAX_UPLOAD = 256 * 1024 * 1024
MAX_FILES = 2
UPLOAD_PATH = "/app/audit/verify"
_CHUNK = 1 << 16


def add_routes(app: web.Application, cx: WebContext) -> None:
    gw = cx.gw

    async def overview(request: web.Request, report: str = "", verdict: str = "",
                       status: int = 200) -> web.Response:
        health = await gw.health()
        cp = await gw.store.call(gw.store.sync.latest_checkpoint)
        signers = [line[2:].split(" ", 1)[0] for line in (cp["note"] if cp else "").splitlines()
                   if line.startswith("— ")]
        reads = await gw.store.call(cx.ws.reads, 100)
        return cx.page(request, "audit.html", status=status, size=health["audit"].get("size", 0),
                       checkpoint=cp, signers=signers, peers=health["peers"],
                       alerts=health["audit"].get("alerts", []), reads=reads, report=report,
                       verdict=verdict, max_mb=MAX_UPLOAD >> 20)

    async def page(request: web.Request) -> web.Response:
        await cx.need_role(request, "audit", *ROLES)
        return await overview(request)

    async def bundle(request: web.Request) -> web.StreamResponse:
        await cx.need_role(request, "audit_bundle", *ROLES)
        with tempfile.TemporaryDirectory(prefix="blo-bundle-") as tmp:
            out = Path(tmp) / "bundle.tar"
            manifest = await asyncio.to_thread(export_bundle, gw.config.home, out)
            data = await asyncio.to_thread(out.read_bytes)
        name = f"audit_{manifest['office']}_{manifest['size']}.tar"
        return web.Response(body=data, content_type="application/x-tar", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    async def verify(request: web.Request) -> web.Response:
        await cx.need_role(request, "audit_verify", *ROLES)
        length = request.content_length
        if length is not None and length > MAX_FILES * MAX_UPLOAD + _CHUNK:
            raise PayloadTooLarge(f"a bundle is at most {MAX_UPLOAD >> 20} MiB")
        if request.content_type != "multipart/form-data":
            raise Malformed("upload the bundle as a form (multipart/form-data)")
        reader = await request.multipart()
        first = await reader.next()
        given = None
        if isinstance(first, BodyPartReader) and first.name == "csrf":
            token = b""
            while len(token) <= 128 and (chunk := await first.read_chunk(128)):
                token += chunk
            given = token.decode("ascii", "replace")
        await cx.check_csrf(request, given)
        with tempfile.TemporaryDirectory(prefix="blo-verify-") as tmp:
            paths: list[Path] = []
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name != "bundle":
                    raise Malformed("the form has csrf, then one or two files named bundle")
                if len(paths) == MAX_FILES:
                    raise Malformed(f"at most {MAX_FILES} bundles: this side's and the peer's")
                path = Path(tmp) / f"{len(paths)}.tar"
                await _save(part, path)
                if path.stat().st_size:
                    paths.append(path)
            if not paths:
                raise Malformed("choose a bundle file to verify")
            report = await asyncio.to_thread(verify_bundles, paths, gw.roots)
        lang = request[SESSION].lang
        return await overview(request, render_report(report, lang), report.verdict,
                              status=200)

    app.router.add_get("/audit", page)
    app.router.add_get("/audit/bundle", bundle)
    app.router.add_post("/audit/verify", verify)


async def _save(part: BodyPartReader, path: Path) -> None:
    """Write one uploaded file, refusing it past ``MAX_UPLOAD`` bytes."""
    size = 0
    with path.open("wb") as f:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise PayloadTooLarge(f"a bundle is at most {MAX_UPLOAD >> 20} MiB")
            f.write(chunk)

