"""Gateways for the benches: fresh keys, one home and one ``blo-gateway serve`` process each.

    with fleet(tmp, [LAOCAI, HEKOU]) as f:
        f.client(LAOCAI).send([HEKOU], payload)

Every office gets a peer port and an officer port on loopback, an officer user ``bench``
(its token in ``tokens``), and a directory both roots signed listing every office's
endpoint. ``prepare(home)`` runs on each home before its process starts (extra users,
web passwords). Processes are stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.cli.client import OfficerClient
from gateway.cli.demo import GatewayProcess, free_port
from gateway.cli.provision import (
    DEFAULT_OFFICES,
    Network,
    OfficeSpec,
    cosigned_directory,
    provision,
)
from gateway.node.home import add_user, init_home


@dataclass
class Fleet:
    net: Network
    specs: list[OfficeSpec]
    homes: dict[str, Path] = field(default_factory=dict)
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)  # (peer, officer API)
    tokens: dict[str, str] = field(default_factory=dict)
    procs: dict[str, GatewayProcess] = field(default_factory=dict)

    def api(self, office: str) -> str:
        return f"http://127.0.0.1:{self.ports[office][1]}"

    def client(self, office: str) -> OfficerClient:
        return OfficerClient(self.api(office), self.tokens[office])

    def db(self, office: str) -> Path:
        return self.homes[office] / "gateway.db"

    def endpoints(self) -> dict[str, str]:
        return {o: f"http://127.0.0.1:{p[0]}" for o, p in self.ports.items()}

    def next_directory(self, serial: int) -> bytes:
        """The same offices and keys in a directory with ``serial``, signed by both roots."""
        return cosigned_directory(self.net.keyrings, self.net.root_signers, self.specs,
                                  self.endpoints(), serial=serial,
                                  now_ms=int(time.time() * 1000))

    def pid(self, office: str) -> int:
        proc = self.procs[office].proc
        assert proc is not None
        return proc.pid


def spec(office: str) -> OfficeSpec:
    """The default office spec for a default office id."""
    return next(o for o in DEFAULT_OFFICES if o.office_id == office)


@contextlib.contextmanager
def fleet(tmp: Path | str, offices: Sequence[str | OfficeSpec], *,
          prepare: Callable[[str, Path], None] | None = None, healthy_s: float = 60.0,
          **settings: Any) -> Iterator[Fleet]:
    """Start one gateway per office (SQLite homes under ``tmp``); ``settings`` go to every
    home's configuration."""
    specs = [o if isinstance(o, OfficeSpec) else spec(o) for o in offices]
    ports = {o.office_id: (free_port(), free_port()) for o in specs}
    net = provision(int(time.time() * 1000), offices=specs,
                    endpoints={o: f"http://127.0.0.1:{p[0]}" for o, p in ports.items()})
    f = Fleet(net, specs, ports=ports)
    try:
        for office in ports:
            home = f.homes[office] = Path(tmp) / office
            init_home(home, keyring=net.keyrings[office], directory=net.directory_bytes,
                      roots=net.roots, peer_port=ports[office][0], api_port=ports[office][1],
                      **settings)
            f.tokens[office] = add_user(home, "bench", "officer").read_text().strip()
            if prepare is not None:
                prepare(office, home)
            f.procs[office] = GatewayProcess(home)
            f.procs[office].start()
        for office, proc in f.procs.items():
            proc.wait_healthy(f.client(office), timeout=healthy_s)
        yield f
    finally:
        for proc in f.procs.values():
            proc.stop()
