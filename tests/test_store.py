"""The store itself: migrations match the models; crypto-shredding keeps the audit log whole."""

from __future__ import annotations

import time

import aiohttp
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from harness import BACKENDS, PG_DSN, Officer, Pair, wait_for

import gateway.webapp.store  # noqa: F401 - the web tables join the metadata
from gateway.bundle import export_bundle
from gateway.clock import FakeClock
from gateway.scenario import HEKOU, LAOCAI, case_payloads
from gateway.store import make_engine, metadata, migrate
from gateway.verify import verify_bundles


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_exactly_the_models(backend, tmp_path):
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    else:
        schema = f"t_mig_{int(time.time() * 1000) % 10**9}"
        engine = make_engine(PG_DSN, schema=schema)
    try:
        migrate(engine)
        with engine.connect() as c:
            diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}),
                                    metadata)
        assert diff == []
    finally:
        if backend == "postgres":
            with engine.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


async def test_crypto_shredding_at_retention_expiry(tmp_path):
    pair = Pair(tmp_path, BACKENDS[-1], checkpoint_interval_s=3600, retention_days=30)
    start = int(time.time() * 1000)
    clocks = {LAOCAI: FakeClock(start), HEKOU: FakeClock(start)}
    try:
        await pair.start(LAOCAI, clock=clocks[LAOCAI])
        hk = await pair.start(HEKOU, clock=clocks[HEKOU])
        async with aiohttp.ClientSession() as s:
            lc_o = Officer(s, pair.api(LAOCAI), pair.tokens[LAOCAI]["officer"])
            hk_o = Officer(s, pair.api(HEKOU), pair.tokens[HEKOU]["officer"])
            mid = await lc_o.send([HEKOU], case_payloads()[0].payload.to_dict())

            async def delivered() -> bool:
                return (await lc_o.status(mid))["deliveries"][0]["state"] == "delivered"
            await wait_for(delivered)
            await hk_o.call("GET", f"/api/v1/inbox/{mid}", expect=200)
            assert await hk.retention_sweep() == 0  # not yet
            for c in clocks.values():
                c.advance(31 * 86_400_000)
            assert await hk.retention_sweep() >= 1
            data = await hk_o.call("GET", f"/api/v1/inbox/{mid}", expect=410)
            assert data["code"] == "SHREDDED"
            # The metadata is still listed, the ciphertext and its key are gone.
            assert any(m["message_id"] == mid for m in await hk_o.inbox())
        with hk.store.sync.engine.connect() as c:
            raw = c.execute(sa.text("SELECT raw FROM envelopes WHERE shredded_at_ms IS NOT NULL")
                            ).scalars().all()
            assert raw and all(bytes(r) == b"" for r in raw)
        from gateway.witness import checkpoint_and_witness

        await checkpoint_and_witness(hk)
        out = tmp_path / "hk.tar"
        export_bundle(pair.homes[HEKOU], out)
        report = verify_bundles([out], pair.net.roots)
        assert report.ok, report.problems
        assert report.logs[0]["events"]["message.shredded"] >= 1
    finally:
        await pair.close()
