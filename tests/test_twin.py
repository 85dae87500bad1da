"""Two processes of one gateway on one PostgreSQL schema (and one only on SQLite).

Real processes throughout: audit appends from two processes at once stay one linear log
(and collide without the lock, so the check is not vacuous); leases are held by one
session at a time and freed when the session dies; a second ``serve`` on a SQLite home is
refused; and the twin fault of tools/chaos.py — two Lào Cai processes behind a proxy,
keyed sends through both, Hekou sending to both, the process running delivery killed
with SIGKILL, restarted, then the other — loses and duplicates nothing, its audit log
verifies offline, and the other process takes over delivery within seconds.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import PG_DSN, Pair, load_script

from gateway.audit.leaves import LEAF_PREFIX, decode_leaf
from gateway.audit.merkle import CompactRange, leaf_hash
from gateway.protocol.scenario import LAOCAI
from gateway.store import Store, make_engine, prepare_schema
from gateway.store.leases import Leases

chaos = load_script(Path(__file__).parents[1] / "tools" / "chaos.py", "blo_chaos_tool")
needs_pg = pytest.mark.skipif(not PG_DSN, reason="needs GATEWAY_TEST_PG_DSN")

# One writer process: waits for the start file, then appends N audit events, one
# transaction each; prints how many failed.
APPENDER = """
import sys, time, pathlib
from gateway.store import Store, make_engine
dsn, schema, n, start, lock = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
store = Store(make_engine(dsn, schema=schema), "vn.laocai.blo")
if lock == "off":
    store._lock_audit = lambda c: None
while not pathlib.Path(start).exists():
    time.sleep(0.005)
failed = 0
for i in range(n):
    try:
        store.audit([{"t": 1, "type": "gateway.started", "serial": i,
                      "directory_sha256": "00" * 32, "keys": []}])
    except Exception:
        failed += 1
print(failed)
"""


@pytest.fixture
def schema():
    name = f"t_{secrets.token_hex(6)}"
    engine = make_engine(PG_DSN, schema=name)
    prepare_schema(engine, upgrade=False)
    yield name
    with engine.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def _append_from_two_processes(tmp_path: Path, schema: str, n: int, lock: str) -> list[int]:
    start = tmp_path / f"go-{lock}"
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, PG_DSN, schema, str(n),
                               str(start), lock], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    start.touch()
    return [int(p.communicate(timeout=120)[0].strip()) for p in procs]


@needs_pg
def test_audit_appends_from_two_processes_stay_one_linear_log(tmp_path, schema):
    assert _append_from_two_processes(tmp_path, schema, 150, "on") == [0, 0]
    store = Store(make_engine(PG_DSN, schema=schema), LAOCAI)
    with store.engine.connect() as c:
        rows = c.execute(sa.text("SELECT idx, data, hash FROM audit_leaves ORDER BY idx")).all()
    assert [r.idx for r in rows] == list(range(300))
    edge = CompactRange(0, [])
    for r in rows:
        assert decode_leaf(bytes(r.data))["seq"] == r.idx  # each leaf names its place
        assert leaf_hash(LEAF_PREFIX + bytes(r.data)) == bytes(r.hash)
        edge.append(bytes(r.hash))
    assert store.audit_head() == (300, edge.root())  # the stored tree is the leaves' tree
    store.engine.dispose()


@needs_pg
def test_without_the_append_lock_two_processes_collide(tmp_path, schema):
    """The check above can fail: with the lock switched off, the two writers read the
    same size and write the same index (refused by the key) — appends are lost."""
    failed = _append_from_two_processes(tmp_path, schema, 150, "off")
    assert sum(failed) > 0, failed


@needs_pg
def test_a_lease_is_held_by_one_session_and_freed_when_it_dies(schema):
    a, b = Leases(PG_DSN, schema), Leases(PG_DSN, schema)
    other = Leases(PG_DSN, schema + "x")  # another gateway's schema: its own leases
    try:
        assert a.hold({"deliver:x", "checkpoint"}) == {"deliver:x", "checkpoint"}
        assert a.hold({"deliver:x", "checkpoint"}) == {"deliver:x", "checkpoint"}  # kept
        assert b.hold({"deliver:x", "checkpoint"}) == set()
        assert other.hold({"deliver:x"}) == {"deliver:x"}
        assert a.hold({"deliver:x"}) == {"deliver:x"}  # "checkpoint" released
        assert b.hold({"deliver:x", "checkpoint"}) == {"checkpoint"}
        # a's session ends (as when its process dies or its connection is cut)
        admin = make_engine(PG_DSN)
        with admin.begin() as c:
            pid = c.execute(sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND pid <> "
                "pg_backend_pid() AND objid::bigint = (hashtextextended(:k, 0) & 4294967295)"),
                {"k": f"blo-gateway lease {schema} deliver:x"}).scalar()
            c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        admin.dispose()
        assert a.hold({"deliver:x"}) == set()  # noticed: nothing held
        assert b.hold({"deliver:x", "checkpoint"}) == {"deliver:x", "checkpoint"}
        assert a.hold({"deliver:x"}) == set()  # reconnected, but b holds it now
    finally:
        for leases in (a, b, other):
            leases.close()


async def test_a_second_serve_on_a_sqlite_home_is_refused(tmp_path):
    pair = Pair(tmp_path / "net", "sqlite")
    try:
        await pair.start(LAOCAI)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "serve", "--home", str(pair.homes[LAOCAI]),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode != 0
        assert b"already running" in out and b"gateway.db.lock" in out, out
        await pair.stop(LAOCAI)
        await pair.start(LAOCAI)  # the lock went with the first process's stop
    finally:
        await pair.close()


@needs_pg
def test_two_laocai_processes_one_killed_then_the_other(tmp_path):
    r = chaos.run_fault("twin", tmp_path, 300, kills=2, pg_dsn=PG_DSN, timeout=180)
    assert not r.problems, r.problems
    assert (r.sent, r.received, r.receipted, r.lost, r.duplicated) == (300, 300, 300, 0, 0)
    assert r.logs_ok and not r.canary_found and r.ok
    assert len(r.takeover_s) == 2 and all(0 < t < 10 for t in r.takeover_s), r.takeover_s
    # both processes took officer sends and received from Hekou
    for home in (tmp_path / LAOCAI, tmp_path / "laocai-2"):
        log = (home / "gateway.log").read_text()
        assert '"message_queued"' in log and '"envelopes_received"' in log, home
