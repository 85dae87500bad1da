"""Upgrades: a database written at the previous release's migration (0004) with messages and
users in it is refused by ``serve``, upgraded by ``blo-gateway migrate``, and then served
with its data; a database newer than the code is refused."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from harness import BACKENDS, Officer, Pair, wait_for

from gateway.node.config import load_config
from gateway.node.gateway import Gateway
from gateway.protocol.errors import SchemaMismatch
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from gateway.store import make_engine, schema_revision
from gateway.store.engine import _alembic

HEAD = ScriptDirectory.from_config(_alembic()).get_current_head()  # whatever comes after 0004


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


def engine_of(pair: Pair, office: str) -> sa.Engine:
    cfg = load_config(pair.homes[office])
    return make_engine(cfg.db_url, schema=cfg.database_schema or None)


def downgrade(pair: Pair, office: str, revision: str) -> None:
    engine = engine_of(pair, office)
    cfg = _alembic()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def cli(pair: Pair, office: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "migrate", "--home",
                           str(pair.homes[office]), *args], capture_output=True, text=True,
                          timeout=120, check=False)


async def test_a_0004_database_with_data_is_refused_then_migrated_and_served(pair):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    async with aiohttp.ClientSession() as session:
        o = Officer(session, pair.api(LAOCAI), pair.tokens[LAOCAI]["officer"])
        mid = await o.send([HEKOU], case_payloads()[0].payload.to_dict())

        async def delivered() -> bool:
            return (await o.status(mid))["deliveries"][0]["state"] == "delivered"

        await wait_for(delivered, what="delivery")
    await pair.stop(HEKOU)
    downgrade(pair, HEKOU, "0004")  # as the previous release left it, data and all
    engine = engine_of(pair, HEKOU)
    assert schema_revision(engine)[0] == "0004"
    engine.dispose()

    with pytest.raises(SchemaMismatch, match=r"0004, older.*blo-gateway migrate"):
        await pair.start(HEKOU)
    res = cli(pair, HEKOU, "--check")
    assert res.returncode == 1 and "needs migrating" in res.stdout, res.stdout + res.stderr
    res = cli(pair, HEKOU)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"0004 -> {HEAD} (upgraded)" in res.stdout
    assert cli(pair, HEKOU, "--check").returncode == 0

    await pair.start(HEKOU)
    async with aiohttp.ClientSession() as session:
        h = Officer(session, pair.api(HEKOU), pair.tokens[HEKOU]["officer"])  # same token
        inbox = await h.inbox()
        assert [m["message_id"] for m in inbox] == [mid]
        shown = await h.call("GET", f"/api/v1/inbox/{mid}?lang=zh", expect=200)
        assert shown["payload"] == case_payloads()[0].payload.to_dict()


async def test_a_newer_database_is_refused_and_auto_migrate_upgrades(pair):
    await pair.start(HEKOU)
    await pair.stop(HEKOU)
    engine = engine_of(pair, HEKOU)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaMismatch, match="9999, newer than this code"):
        await Gateway(pair.config(HEKOU)).start()
    with pytest.raises(SchemaMismatch, match="newer"):  # auto_migrate never goes backwards
        await Gateway(pair.config(HEKOU).__class__(**{
            **pair.config(HEKOU).__dict__, "auto_migrate": True})).start()
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD})
    engine.dispose()
    downgrade(pair, HEKOU, "0004")
    cfg = pair.config(HEKOU)
    gw = Gateway(cfg.__class__(**{**cfg.__dict__, "auto_migrate": True}))
    await gw.start()
    await gw.stop()
    engine = engine_of(pair, HEKOU)
    assert schema_revision(engine)[0] == HEAD
    engine.dispose()
