"""Backup and restore of a full store: duration and size for --messages messages.

    python bench/bench_backup.py [--messages 100000] [--pg postgresql://...]

Fills a fresh Lào Cai gateway's store through the store API (not HTTP): half the messages
sent to Hekou (``submit_many``, 1000 per transaction, each a sealed 2 KiB envelope as
bench_gateways.py sends), half received from Hekou (``receive``, with signed receipts), so
that envelopes, storage keys, outbox, inbox, receipts, cases and the audit log all hold
real rows. Then, as an operator would, runs ``blo-gateway backup`` (sealed to a fresh
backup key) and, after deleting the home (and dropping the PostgreSQL schema),
``blo-gateway restore``; prints the database size, the backup file's size and both
durations, and checks the restored store holds every message.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateways import payload_2k

from gateway.cli.provision import provision
from gateway.node.config import load_config
from gateway.node.home import init_home, sqlite_path
from gateway.protocol import envelope
from gateway.protocol.identity import Directory, Keyring
from gateway.protocol.receipt import make_receipt
from gateway.protocol.scenario import HEKOU, LAOCAI
from gateway.store import Incoming, Store, Submission, make_engine, prepare_schema

BATCH = 1000


def sealed(sender: Keyring, to: str, directory: Directory, now: int) -> Incoming:
    data, h = envelope.seal_with_header(payload_2k(), sender=sender, recipients=[to],
                                        directory=directory, now_ms=now)
    return Incoming(h.message_id, h.sender, tuple(h.recipient_offices), int(h.message_type),
                    hashlib.sha256(data).digest(), data, h.created_at_ms, h.expires_at_ms,
                    h.case_reference, h.in_reply_to, int(h.priority), int(h.handling_code),
                    h.deadline_ms, h.workflow_step)


def fill(store: Store, net, n: int) -> float:
    d = net.directory()
    hekou = net.keyrings[HEKOU]
    t0 = time.monotonic()
    for start in range(0, n, BATCH):
        now = int(time.time() * 1000)
        count = min(BATCH, n - start)
        out = [sealed(net.keyrings[LAOCAI], HEKOU, d, now) for _ in range(count // 2)]
        store.submit_many([Submission(e, (HEKOU,), now, "officer") for e in out])
        came = [sealed(hekou, LAOCAI, d, now) for _ in range(count - count // 2)]

        def sign(inc: Incoming, at: int) -> bytes:
            return make_receipt(net.keyrings[LAOCAI], message_id=inc.message_id,
                                sender=inc.sender, envelope_sha256=inc.sha256,
                                received_at_ms=at)
        store.receive(came, now_ms=now, sign_receipt=sign, me=LAOCAI)
        if start // BATCH % 10 == 9:
            print(f"  {start + count} messages stored, {time.monotonic() - t0:.0f} s",
                  flush=True)
    return time.monotonic() - t0


def db_bytes(home: Path) -> int:
    cfg = load_config(home)
    db = sqlite_path(cfg)
    if db is not None:
        return sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    engine = make_engine(cfg.db_url, schema=cfg.database_schema)
    with engine.connect() as c:
        size = c.execute(sa.text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s "
            "AND c.relkind = 'r'"), {"s": cfg.database_schema}).scalar()
    engine.dispose()
    return int(size or 0)


def envelope_count(home: Path) -> int:
    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    with engine.connect() as c:
        n = int(c.execute(sa.text("SELECT count(*) FROM envelopes")).scalar() or 0)
    engine.dispose()
    return n


def cli(*args: str) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"blo-gateway {args[0]} failed: {proc.stdout}{proc.stderr}")
    print("  " + proc.stdout.strip().splitlines()[-1][:160])
    return time.monotonic() - t0


def drop_schema(dsn: str, schema: str) -> None:
    engine = make_engine(dsn)
    with engine.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def run(root: Path, messages: int, pg: str) -> dict[str, float]:
    net = provision(int(time.time() * 1000))
    home = root / "laocai"
    extra: dict[str, str] = {}
    schema = ""
    if pg:
        schema = f"bench_{secrets.token_hex(6)}"
        extra = {"database_url": pg, "database_schema": schema}
    init_home(home, keyring=net.keyrings[LAOCAI], directory=net.directory_bytes,
              roots=net.roots, **extra)
    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    try:
        prepare_schema(engine, upgrade=False)
        fill_s = fill(Store(engine, LAOCAI), net, messages)
        engine.dispose()
        size = db_bytes(home)
        keys = root / "offline"
        cli("backup-key", "create", "--out", str(keys))
        out = root / "full.blo"
        backup_s = cli("backup", "--home", str(home), "--out", str(out), "--to-key",
                       str(keys / "backup.pub"))
        shutil.rmtree(home)
        if pg:
            drop_schema(pg, schema)
        restore_s = cli("restore", str(out), "--home", str(home), "--backup-key",
                        str(keys / "backup.key"))
        restored = envelope_count(home)
        if restored != messages:
            raise SystemExit(f"restored {restored} envelopes, expected {messages}")
        return {"fill_s": fill_s, "db_mb": size / 1e6, "backup_mb": out.stat().st_size / 1e6,
                "backup_s": backup_s, "restore_s": restore_s}
    finally:
        engine.dispose()
        if pg:
            drop_schema(pg, schema)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--pg", default="", metavar="DSN", help="PostgreSQL instead of SQLite")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="blo-bench-backup-") as tmp:
        r = run(Path(tmp), a.messages, a.pg)
    backend = "postgresql" if a.pg else "sqlite"
    print(f"{backend}: {a.messages} messages (filled in {r['fill_s']:.0f} s); database "
          f"{r['db_mb']:.0f} MB; backup file {r['backup_mb']:.0f} MB in {r['backup_s']:.1f} s; "
          f"restore in {r['restore_s']:.1f} s (both wall-clock, the CLI as a subprocess)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
