"""Two gateways exchange messages through real nginx with mutual TLS: deploy/nginx/
blo-gateway-peer.conf rendered for loopback, a throwaway CA made with `cryptography` (a server
certificate for nginx, a client certificate per gateway), each gateway presenting its client
certificate (tls_client_cert / tls_client_key). A client without a certificate, or with one
from another CA, is refused by nginx before anything reaches a gateway.

Needs Debian's nginx (`apt-get install nginx-light`; .ci/run installs it); skipped, saying so,
where it is not installed. The transport is the same whatever the store: SQLite only."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from harness import Pair, ThrowawayCA, wait_for

from gateway.cli.demo import free_port
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "blo-gateway-peer.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")

pytestmark = pytest.mark.skipif(
    not NGINX, reason="nginx is not installed (Debian: apt-get install nginx-light)")


def render(template: str, **values: str) -> str:
    """The template with every ``@NAME@`` replaced; none may be left outside comments."""
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    code = "\n".join(line.split("#", 1)[0] for line in template.splitlines())
    left = re.findall(r"@[A-Z_]+@", code)
    assert not left, f"placeholders not filled: {left}"
    return template


class Nginx:
    """nginx in the foreground with its own prefix folder, one server block per gateway."""

    def __init__(self, folder: Path, servers: dict[str, str]) -> None:
        self.folder = folder
        folder.mkdir(parents=True)
        includes = []
        for name, text in servers.items():
            (folder / f"{name}.conf").write_text(text, encoding="utf-8")
            includes.append(f"    include {folder / name}.conf;")
        temp = " ".join(f"{k}_temp_path {folder / k};"
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""  # the test's files are 0700/0600
        self.conf = folder / "nginx.conf"
        self.conf.write_text(
            f"{user}worker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log info;\nevents {{ worker_connections 128; }}\n"
            f"http {{\n    access_log {folder}/access.log;\n    {temp}\n"
            + "\n".join(includes) + "\n}\n", encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ports: list[int]) -> None:
        check = subprocess.run([NGINX, "-t", "-p", str(self.folder), "-c", str(self.conf)],
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([NGINX, "-p", str(self.folder), "-c", str(self.conf),
                                      "-g", "daemon off;"])
        deadline = time.monotonic() + 15
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert self.proc.poll() is None, self.log()
                    assert time.monotonic() < deadline, "nginx did not start listening"
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def requests(self) -> str:
        return (self.folder / "access.log").read_text(errors="replace")


@pytest.mark.parametrize("post_quantum", [False, True], ids=["suite1", "suite2"])
async def test_two_gateways_through_nginx_with_mutual_tls(tmp_path, post_quantum):
    """Suite 2: version-2 requests and signed answers carry ~5 KB of signature headers each
    way, which must pass nginx's default header buffers (wire-format §15)."""
    ca = ThrowawayCA(tmp_path / "ca", "BLO test CA")
    server_cert, server_key = ca.issue("localhost", server=True)
    client = {o: ca.issue(o, client=True) for o in (LAOCAI, HEKOU)}
    stranger = ThrowawayCA(tmp_path / "other-ca", "another CA").issue("stranger", client=True)
    pair = Pair(tmp_path / "gw", "sqlite", post_quantum=post_quantum)
    front = {o: free_port() for o in (LAOCAI, HEKOU)}
    template = TEMPLATE.read_text(encoding="utf-8")
    nginx = Nginx(tmp_path / "nginx", {o: render(
        template, LISTEN=f"127.0.0.1:{front[o]}", SERVER_NAME="localhost",
        SERVER_CERT=str(server_cert), SERVER_KEY=str(server_key), CLIENT_CA=str(ca.cert_file),
        UPSTREAM=f"127.0.0.1:{pair.ports[o][0]}", MAX_BODY="16m") for o in (LAOCAI, HEKOU)})
    try:
        await asyncio.to_thread(nginx.start, list(front.values()))
        for office, peer in ((LAOCAI, HEKOU), (HEKOU, LAOCAI)):
            cert, key = client[office]
            pair.configure(office, tls_ca=str(ca.cert_file), tls_client_cert=str(cert),
                           tls_client_key=str(key),
                           peer_urls={peer: f"https://localhost:{front[peer]}"})
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        async with aiohttp.ClientSession() as session:
            lc, hk = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
            payload = case_payloads()[1].payload.to_dict()
            a = await lc.send([HEKOU], payload)
            b = await hk.send([LAOCAI], payload)
            await lc.wait_delivered(a)
            await hk.wait_delivered(b)
            await hk.call("GET", f"/api/v1/inbox/{a}", expect=200)
            await lc.call("GET", f"/api/v1/inbox/{b}", expect=200)
            # It went through nginx: envelopes, receipts' requests and pings in its log.
            seen = nginx.requests()
            assert "POST /peer/v1/envelopes" in seen and "GET /peer/v1/ping" in seen

            async def refused(ctx: ssl.SSLContext, port: int) -> tuple[int, str]:
                async with session.get(f"https://localhost:{port}/peer/v1/ping",
                                       ssl=ctx) as r:
                    return r.status, await r.text()

            def ctx(cert: tuple[Path, Path] | None) -> ssl.SSLContext:
                c = ssl.create_default_context(cafile=str(ca.cert_file))
                if cert:
                    c.load_cert_chain(*cert)
                return c
            for port in front.values():
                # No client certificate: nginx answers 400 itself.
                status, text = await refused(ctx(None), port)
                assert status == 400 and "No required SSL certificate was sent" in text
                # A certificate from another CA: refused by nginx too.
                status, text = await refused(ctx(stranger), port)
                assert status == 400 and "SSL certificate error" in text
                # With a good certificate but no request signature, nginx passes it on and
                # the gateway itself refuses it (JSON, a stable code): the gate is nginx's.
                async with session.get(f"https://localhost:{port}/peer/v1/ping",
                                       ssl=ctx(client[LAOCAI])) as r:
                    assert r.status == 401 and (await r.json())["code"]
            # Plain HTTP to nginx's TLS port does not get through either.
            async with session.get(f"http://localhost:{front[HEKOU]}/peer/v1/ping") as r:
                assert r.status == 400
            # Messages keep flowing after the refusals.
            c = await lc.send([HEKOU], payload)
            await lc.wait_delivered(c)

            async def both_up() -> bool:
                return all(pair.gateways[o].peer_info.get(p, {}).get("reachable")
                           for o, p in ((LAOCAI, HEKOU), (HEKOU, LAOCAI)))
            await wait_for(both_up, what="pings through nginx")
    finally:
        await pair.close()
        nginx.stop()
