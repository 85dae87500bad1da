"""Gateways for the benches: fresh keys, one home and one ``blo-gateway serve`` process each.

    with fleet(tmp, [LAOCAI, HEKOU]) as f:
        f.client(LAOCAI).send([HEKOU], payload)

Every office gets a peer port and an officer port on loopback, an officer user ``bench``
(its token in ``tokens``), and a directory both roots signed listing every office's
endpoint. ``prepare(home)`` runs on each home before its process starts (extra users,
web passwords). With ``pg=DSN`` each gateway keeps its store in its own PostgreSQL schema of
that database (as the tests do), dropped at the end. Processes are stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

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
from gateway.store import make_engine


@dataclass
class Fleet:
    net: Network
    specs: list[OfficeSpec]
    homes: dict[str, Path] = field(default_factory=dict)
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)  # (peer, officer API)
    tokens: dict[str, str] = field(default_factory=dict)
    procs: dict[str, GatewayProcess] = field(default_factory=dict)
    pg: str = ""  # the PostgreSQL DSN, or "" for SQLite homes
    schemas: dict[str, str] = field(default_factory=dict)

    def api(self, office: str) -> str:
        return f"http://127.0.0.1:{self.ports[office][1]}"

    def client(self, office: str) -> OfficerClient:
        return OfficerClient(self.api(office), self.tokens[office])

    def db(self, office: str) -> Path:
        return self.homes[office] / "gateway.db"

    def engine(self, office: str) -> sa.Engine:
        """An engine on ``office``'s store (SQLite file or PostgreSQL schema); dispose it."""
        if self.pg:
            return make_engine(self.pg, schema=self.schemas[office])
        return sa.create_engine(f"sqlite:///{self.db(office)}")

    def store_bytes(self, office: str) -> dict[str, int]:
        """Bytes on disk of each table of ``office``'s store, its indexes included (SQLite:
        the dbstat pages of the table and its indexes; PostgreSQL: pg_total_relation_size)."""
        e = self.engine(office)
        try:
            with e.connect() as c:
                if self.pg:
                    rows = c.execute(sa.text(
                        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :s AND c.relkind = 'r'"),
                        {"s": self.schemas[office]}).all()
                else:
                    c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    rows = c.execute(sa.text(
                        "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                        "LEFT JOIN sqlite_schema m ON m.name = d.name "
                        "GROUP BY coalesce(m.tbl_name, d.name)")).all()
        finally:
            e.dispose()
        return {str(r[0]): int(r[1]) for r in rows}

    def cpu_s(self, office: str) -> float:
        """CPU seconds (user + system) that ``office``'s process has used so far."""
        return proc_cpu_s(self.pid(office))

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


def proc_cpu_s(pid: int | str) -> float:
    """CPU seconds (user + system) that process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spec(office: str) -> OfficeSpec:
    """The default office spec for a default office id."""
    return next(o for o in DEFAULT_OFFICES if o.office_id == office)


@contextlib.contextmanager
def fleet(tmp: Path | str, offices: Sequence[str | OfficeSpec], *,
          prepare: Callable[[str, Path], None] | None = None, healthy_s: float = 60.0,
          pg: str = "", post_quantum: bool = False, **settings: Any) -> Iterator[Fleet]:
    """Start one gateway per office (homes under ``tmp``; SQLite, or with ``pg`` a schema
    each in that PostgreSQL database; with ``post_quantum`` every office on suite 2);
    ``settings`` go to every home's configuration."""
    specs = [o if isinstance(o, OfficeSpec) else spec(o) for o in offices]
    ports = {o.office_id: (free_port(), free_port()) for o in specs}
    net = provision(int(time.time() * 1000), offices=specs,
                    endpoints={o: f"http://127.0.0.1:{p[0]}" for o, p in ports.items()},
                    post_quantum=post_quantum)
    f = Fleet(net, specs, ports=ports, pg=pg)
    try:
        for office in ports:
            home = f.homes[office] = Path(tmp) / office
            db: dict[str, str] = {}
            if pg:
                f.schemas[office] = f"bench_{secrets.token_hex(6)}"
                db = {"database_url": pg, "database_schema": f.schemas[office]}
            init_home(home, keyring=net.keyrings[office], directory=net.directory_bytes,
                      roots=net.roots, peer_port=ports[office][0], api_port=ports[office][1],
                      **db, **settings)
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
        if f.schemas:
            engine = make_engine(pg)
            with engine.begin() as c:
                for schema in f.schemas.values():
                    c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
