"""Store faults are answered, not crashed: a locked SQLite database or a full one, PostgreSQL
dropping the gateway's connections under load. Every answer is 201 or 503/507 with
Retry-After and a stable code, never a 500; a retry under the same Idempotency-Key then
sends each message exactly once, and delivery resumes by itself."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from harness import PG_DSN, Officer, Pair, wait_for

from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads

MESSAGES = "/api/v1/messages"


def report(ref: str = "") -> dict[str, Any]:
    payload = case_payloads()[0].payload.to_dict()
    if ref:
        payload["body"]["context"]["case_reference"] = ref
    return {"to": [HEKOU], "payload": payload}


async def post(o: Officer, body: Any, key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with o.s.post(o.base + MESSAGES, json=body,
                        headers={**o.h, "Idempotency-Key": key}) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_locked_sqlite_is_503_with_retry_after_and_nothing_half_written(tmp_path):
    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=3600)
    try:
        await pair.start(LAOCAI)
        async with aiohttp.ClientSession() as s:
            lc = pair.officer(s, LAOCAI)
            await lc.call("GET", MESSAGES, expect=200)  # logged in (an audit write) first
            db = sqlite3.connect(pair.homes[LAOCAI] / "gateway.db", isolation_level=None)
            db.execute("BEGIN IMMEDIATE")  # another writer holds the lock (past busy_timeout)
            try:
                status, data, headers = await post(lc, report(), "locked-1")
            finally:
                db.execute("ROLLBACK")
                db.close()
            assert (status, data["code"]) == (503, "STORAGE_UNAVAILABLE")
            assert headers["Retry-After"].isdigit()
            assert (await lc.call("GET", MESSAGES, expect=200))["messages"] == []
            # The retry under the same key is the first submission: nothing was kept before.
            status, data, _ = await post(lc, report(), "locked-1")
            assert (status, data["replayed"]) == (201, False)
            assert len((await lc.call("GET", MESSAGES, expect=200))["messages"]) == 1
    finally:
        await pair.close()


async def test_full_sqlite_is_507_and_the_gateway_goes_on(tmp_path):
    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=3600)
    try:
        gw = await pair.start(LAOCAI)
        async with aiohttp.ClientSession() as s:
            lc = pair.officer(s, LAOCAI)
            status, _, _ = await post(lc, report(), "fits")
            assert status == 201
            engine = gw.store.sync.engine
            with engine.connect() as c:
                pages = int(c.exec_driver_sql("PRAGMA page_count").scalar() or 0)

            def cap(dbapi_conn: Any, _: Any) -> None:  # the disk holds no more pages
                dbapi_conn.execute(f"PRAGMA max_page_count={pages}")

            sa.event.listen(engine, "connect", cap)
            engine.dispose()
            answers = [await post(lc, report(f"FULL-{i}"), f"full-{i}") for i in range(40)]
            full = [a for a in answers if a[0] != 201]
            assert full and {(a[0], a[1]["code"]) for a in full} == {(507, "STORAGE_FULL")}
            assert all(a[2]["Retry-After"].isdigit() for a in full)
            sa.event.remove(engine, "connect", cap)
            engine.dispose()  # space freed
            status, data, _ = await post(lc, report("FULL-0"), "full-0")
            assert status == 201
            health = await lc.call("GET", "/health", expect=200)
            assert health["store"] == "ok"
    finally:
        await pair.close()


@pytest.mark.skipif(not PG_DSN, reason="needs GATEWAY_TEST_PG_DSN")
async def test_postgres_dropping_connections_under_load(tmp_path):
    pair = Pair(tmp_path, "postgres", checkpoint_interval_s=3600)
    admin = sa.create_engine("postgresql+psycopg://" + PG_DSN.split("://", 1)[1])
    schema = pair.config(LAOCAI).database_schema
    try:
        await pair.start(LAOCAI)
        await pair.start(HEKOU)
        stop = asyncio.Event()
        kills = 0

        def terminate() -> int:
            with admin.begin() as c:
                return len(c.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"), {"name": f"blo-gateway {schema}"}).all())

        async def killer() -> None:
            nonlocal kills
            while not stop.is_set():
                kills += await asyncio.to_thread(terminate)
                await asyncio.sleep(0.15)

        statuses: list[int] = []
        async with aiohttp.ClientSession() as s:
            lc, hk = pair.officer(s, LAOCAI), pair.officer(s, HEKOU)

            async def send_until_taken(i: int) -> str:
                while True:  # as the client does: retry under the same key
                    status, data, headers = await post(lc, report(f"PG-{i}"), f"pg-{i}")
                    statuses.append(status)
                    if status == 201:
                        return str(data["message_id"])
                    assert (status, data["code"]) == (503, "STORAGE_UNAVAILABLE"), data
                    assert headers["Retry-After"].isdigit()
                    await asyncio.sleep(0.1)

            task = asyncio.create_task(killer())
            try:
                mids = await asyncio.gather(*(send_until_taken(i) for i in range(30)))
                await asyncio.sleep(0.5)
            finally:
                stop.set()
                await task
            assert kills > 0 and 500 not in statuses
            assert len(set(mids)) == 30

            async def all_in() -> bool:
                return len(await hk.inbox()) >= 30

            await wait_for(all_in, timeout=60, what="every message at Hekou")
            await asyncio.sleep(0.3)
            assert sorted(m["message_id"] for m in await hk.inbox()) == sorted(mids)
            sent = (await lc.call("GET", f"{MESSAGES}?limit=1000", expect=200))["messages"]
            assert sorted(m["message_id"] for m in sent) == sorted(mids)
            health = await lc.call("GET", "/health", expect=200)
            assert health["store"] == "ok"
    finally:
        admin.dispose()
        await pair.close()
