"""Two (or more) real gateways on loopback for the tests: in-process or as processes."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from gateway.cli.demo import free_port
from gateway.cli.provision import DEFAULT_OFFICES, Network, OfficeSpec, provision
from gateway.node.config import Config, load_config
from gateway.node.gateway import Gateway
from gateway.node.home import add_user, init_home
from gateway.protocol.identity import Keyring
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD

PG_DSN = os.environ.get("GATEWAY_TEST_PG_DSN", "")
BACKENDS = ["sqlite", "postgres"] if PG_DSN else ["sqlite"]
#: Browser tests drive the pages, which reach the store only through the same handlers as
#: the HTTP-level web tests (tests/test_web_*.py), and those run on both backends. So each
#: browser test runs once: the production store (PostgreSQL) where it is set up, half of
#: them on SQLite (the demo's store), to keep the suite well inside its time.
BROWSER_PG = BACKENDS[-1:]
BROWSER_SQLITE = ["sqlite"]


class Pair:
    """Lào Cai and Hekou gateways with fresh keys, homes under ``root``."""

    def __init__(self, root: Path, backend: str, now_ms: int | None = None,
                 post_quantum: bool | Collection[str] = False,
                 offices: Sequence[OfficeSpec] = DEFAULT_OFFICES, **settings: Any) -> None:
        """``now_ms``: when the keys and directory start to be valid (a FakeClock's start);
        ``post_quantum``: suite-2 keys for every office, or for these (``provision``);
        ``offices``: the directory's offices (the three of the scenario get a home, the
        others only an endpoint where nothing listens)."""
        self.root = root
        self.backend = backend
        self.ports = {o.office_id: (free_port(), free_port()) for o in offices}
        now = int(time.time() * 1000) if now_ms is None else now_ms
        self.net: Network = provision(now, offices=offices, endpoints=self.endpoints(),
                                      post_quantum=post_quantum)
        self.homes: dict[str, Path] = {}
        self.schemas: list[str] = []
        self.gateways: dict[str, Gateway] = {}
        self.tokens: dict[str, dict[str, str]] = {}
        for office in (LAOCAI, HEKOU, LAOCAI_BORDER_GUARD):
            home = root / office
            extra: dict[str, Any] = {"retry_base_ms": 100, "retry_cap_ms": 1000, **settings}
            if backend == "postgres":
                schema = f"t_{secrets.token_hex(6)}"
                self.schemas.append(schema)
                extra.update(database_url=PG_DSN, database_schema=schema)
            init_home(home, keyring=self.net.keyrings[office],
                      directory=self.net.directory_bytes, roots=self.net.roots,
                      peer_port=self.ports[office][0], api_port=self.ports[office][1], **extra)
            self.homes[office] = home
            self.tokens[office] = {}
            for user, role in (("officer", "officer"), ("auditor", "auditor")):
                path = add_user(home, user, role)
                self.tokens[office][user] = path.read_text().strip()

    def endpoints(self) -> dict[str, str]:
        return {o: f"http://127.0.0.1:{p[0]}" for o, p in self.ports.items()}

    def config(self, office: str) -> Config:
        return load_config(self.homes[office])

    def configure(self, office: str, **settings: Any) -> None:
        """Change settings in ``office``'s gateway.toml (before it starts)."""
        import dataclasses

        from gateway.node.config import render_config

        cfg = dataclasses.replace(self.config(office), **settings)
        (self.homes[office] / "gateway.toml").write_text(render_config(cfg), encoding="utf-8")

    async def start(self, office: str, **kw: Any) -> Gateway:
        gw = Gateway(self.config(office), **kw)
        await gw.start()
        self.gateways[office] = gw
        return gw

    async def stop(self, office: str) -> None:
        gw = self.gateways.pop(office, None)
        if gw is not None:
            await gw.stop()

    async def close(self) -> None:
        for office in list(self.gateways):
            await self.stop(office)
        if self.schemas:
            engine = sa.create_engine("postgresql+psycopg://" + PG_DSN.split("://", 1)[1])
            with engine.begin() as c:
                for s in self.schemas:
                    c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
            engine.dispose()

    def officer(self, session: aiohttp.ClientSession, office: str,
                user: str = "officer") -> Officer:
        """The officer API of ``office``, as ``user``."""
        return Officer(session, self.api(office), self.tokens[office][user])

    def api(self, office: str) -> str:
        return f"http://127.0.0.1:{self.ports[office][1]}"

    def peer(self, office: str) -> str:
        return f"http://127.0.0.1:{self.ports[office][0]}"


class Officer:
    """The officer API over real HTTP, as a user's script would call it."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.s, self.base, self.h = session, base, {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None,
                   expect: int | None = None) -> Any:
        async with self.s.request(method, self.base + path, json=body, headers=self.h) as r:
            data = await r.json()
            if expect is not None:
                assert r.status == expect, (r.status, data)
            return data

    async def send(self, to: list[str], payload: dict[str, Any]) -> str:
        res = await self.call("POST", "/api/v1/messages", {"to": to, "payload": payload},
                              expect=201)
        return str(res["message_id"])

    async def status(self, mid: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.call("GET", f"/api/v1/messages/{mid}", expect=200)
        return data

    async def inbox(self) -> list[dict[str, Any]]:
        data = await self.call("GET", "/api/v1/inbox?limit=1000", expect=200)
        return list(data["messages"])

    async def wait_delivered(self, mid: str, timeout: float = 30.0) -> None:
        """Until every recipient of ``mid`` holds it (a verified receipt), or fail."""
        async def done() -> bool:
            return all(d["state"] == "delivered" for d in (await self.status(mid))["deliveries"])
        await wait_for(done, timeout, what=f"delivery of {mid}")


def admin_headers(home: Path) -> dict[str, str]:
    """An ``admin`` user of the gateway in ``home`` (made now), as request headers."""
    token = add_user(home, "admin", "admin").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


async def ping_as(session: aiohttp.ClientSession, keyring: Keyring, to: str, peer_url: str,
                  now_ms: int | None = None) -> tuple[int, Any]:
    """A signed ping from ``keyring``'s office to ``to`` (status, JSON answer)."""
    from gateway.protocol.peerauth import sign_request

    path = "/peer/v1/ping"
    h = sign_request(keyring, method="GET", path_qs=path, destination=to, body=b"",
                     now_ms=now_ms or int(time.time() * 1000))
    async with session.get(peer_url + path, headers=h) as r:
        return r.status, await r.json()


def run_cli(capfd: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """``blo-gateway ARGS`` in this process, output captured (call it on a thread while
    in-process gateways serve: ``asyncio.to_thread(run_cli, capfd, ...)``)."""
    from gateway.cli import main

    capfd.readouterr()
    code = main(list(args))
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def error_code(fn: Any) -> str:
    """The stable code of the GatewayError ``fn()`` raises, or "OK"."""
    from gateway.protocol.errors import GatewayError

    try:
        fn()
    except GatewayError as e:
        return e.code
    return "OK"


async def wait_for(check: Any, timeout: float = 20.0, what: str = "condition") -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def load_script(path: Path, name: str) -> Any:
    """Import a script by its path under a unique module name (two generators are both
    called generate.py; importing them by name would return whichever came first)."""
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class ThrowawayCA:
    """A certificate authority for one test, made with `cryptography`: ``ca.pem`` in
    ``folder``, and certificates it issues for 127.0.0.1 / localhost (server or client)."""

    def __init__(self, folder: Path, name: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = name
        self.cert = self._build(name, self.key.public_key(), ca=True)
        self.cert_file = self._write("ca.pem", self.cert)

    def _build(self, name: str, public_key: Any, *, ca: bool = False, server: bool = False,
               client: bool = False) -> Any:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.UTC)
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)]))
             .public_key(public_key).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        if server:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        if usages:
            b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        return b.sign(self.key, hashes.SHA256())

    def _write(self, name: str, cert: Any) -> Path:
        from cryptography.hazmat.primitives import serialization

        path = self.folder / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, name: str, *, server: bool = False, client: bool = False
              ) -> tuple[Path, Path]:
        """A certificate and its private key (PEM files; the key 0600)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._build(name, key.public_key(), server=server, client=client)
        cert_file = self._write(f"{name}.pem", cert)
        key_file = self.folder / f"{name}.key"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_file.chmod(0o600)
        return cert_file, key_file
