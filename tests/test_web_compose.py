"""The compose form over real HTTP against two real gateways, as a browser sends it: each
rendered form's key makes a double submit or a reload-and-resubmit send once (through the
officer API's idempotency store); drafts are sealed at rest, listed by metadata, reopened
with every value, deleted when sent and shredded with the retention sweep."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import BACKENDS, PG_DSN, Pair, wait_for
from webtools import Browser, form_key, web_user

from gateway.node.gateway import Gateway
from gateway.protocol.scenario import HEKOU, LAOCAI

#: A case notice as the generated form posts it (field paths of ``CaseNotice``).
NOTICE = [("type", "case_notice"), ("to", HEKOU), ("context.case_reference", "LC-2026-0077"),
          ("context.priority", "2"), ("context.handling_code", "1"),
          ("offence.vi", "Nghi mua bán người"), ("offence.zh", "涉嫌拐卖人口")]


async def _inbox(gw: Gateway) -> int:
    return len(await gw.store.call(gw.store.sync.list_inbox, 100))


async def _signed_in(pair: Pair, secret: str | None, step: int = 0) -> Browser:
    b = Browser(pair.api(LAOCAI))
    assert (await b.sign_in("officer", secret, step=step))[0] == 303
    return b


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_double_submit_or_a_resubmit_of_one_form_sends_once(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        secret = web_user(pair, LAOCAI, "officer", exists=True)
        b = await _signed_in(pair, secret)
        try:
            st, html, _ = await b.get("/app/compose?type=case_notice")
            assert st == 200
            key = form_key(html)
            sent = [*NOTICE, ("form_key", key)]
            # a double click: two posts of the same form at once, then a reload-and-resubmit
            answers = await asyncio.gather(b.post("/app/compose", sent),
                                           b.post("/app/compose", sent))
            answers.append(await b.post("/app/compose", sent))
            assert [(st, h["Location"]) for st, _, h in answers] == \
                [(303, "/app/sent?ok=1")] * 3

            async def arrived() -> bool:
                return await _inbox(hk) >= 1
            await wait_for(arrived, what="the notice in Hekou")
            await asyncio.sleep(1.0)  # time for a second copy to arrive, if one were sent
            assert await _inbox(hk) == 1
            # the same form sent again with another value: refused, nothing sent
            other = [(k, "LC-2026-0078" if k == "context.case_reference" else v)
                     for k, v in NOTICE]
            st, html, _ = await b.post("/app/compose", [*other, ("form_key", key)])
            assert st == 422 and "đã được gửi với nội dung khác" in html
            # a fresh form of the same page sends a second message
            st, html, _ = await b.get("/app/compose?type=case_notice")
            st, _, _ = await b.post("/app/compose", [*other, ("form_key", form_key(html))])
            assert st == 303

            async def two() -> bool:
                return await _inbox(hk) == 2
            await wait_for(two, what="the second notice in Hekou")
            # a key not made for this session (another session's, or forged) sends nothing
            b2 = await _signed_in(pair, secret, step=1)  # another session, a later code
            try:
                st, html, _ = await b2.get("/app/compose?type=case_notice")
                st, html, _ = await b.post("/app/compose",
                                           [*NOTICE, ("form_key", form_key(html))])
                assert st == 400 and "không thuộc phiên đăng nhập" in html
                forged = key[:-1] + ("0" if key[-1] != "0" else "1")
                st, _, _ = await b.post("/app/compose", [*NOTICE, ("form_key", forged)])
                assert st == 400
            finally:
                await b2.close()
            await asyncio.sleep(0.5)
            assert await _inbox(hk) == 2
        finally:
            await b.close()
    finally:
        await pair.close()




CANARY = "Lò Thị Canary-7Q4"  # an invented name: must never be in the database in clear


def _database_bytes(pair: Pair, office: str) -> bytes:
    """Everything the database holds: the SQLite files (with the WAL), or on PostgreSQL
    every column of every row of the drafts table as text."""
    cfg = pair.config(office)
    if pair.backend == "sqlite":
        path = Path(cfg.db_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    engine = sa.create_engine("postgresql+psycopg://" + PG_DSN.split("://", 1)[1])
    with engine.connect() as c:
        rows = c.execute(sa.text(f'SELECT * FROM "{cfg.database_schema}".web_drafts')).all()
    engine.dispose()
    return repr([tuple(bytes(x) if isinstance(x, memoryview) else x for x in r)
                 for r in rows]).encode() + b"".join(
        bytes(x) for r in rows for x in r if isinstance(x, bytes | memoryview))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_drafts_are_sealed_reopened_whole_deleted_when_sent_and_shredded(
        backend: str, tmp_path: Path) -> None:
    pair = Pair(tmp_path, backend)
    try:
        lc = await pair.start(LAOCAI)
        hk = await pair.start(HEKOU)
        secret = web_user(pair, LAOCAI, "officer", exists=True)
        b = await _signed_in(pair, secret)
        try:
            st, html, _ = await b.get("/app/compose?type=identification_request")
            typed = [("type", "identification_request"), ("to", HEKOU),
                     ("person.name.full_name", CANARY), ("person.name.hanzi", "王氏梅"),
                     ("person.aliases._n", "1"), ("person.aliases.0.full_name", "Mai"),
                     ("kind", "4"), ("found_time.local", "2026-03-04T10:40"),
                     ("found_time.zone", "Asia/Shanghai")]
            # saved without the case reference: a draft is not checked
            st, _, h = await b.post("/app/compose", [*typed, ("form_key", form_key(html)),
                                                     ("_draft", "1")])
            assert st == 303 and "/app/compose?draft=" in h["Location"]
            draft = h["Location"].split("draft=")[1].split("&")[0]
            st, html, _ = await b.get(h["Location"].removeprefix(pair.api(LAOCAI)))
            assert st == 200 and 'id="draft-saved"' in html
            for k, v in typed:
                if k in ("type", "to", "person.aliases._n"):
                    continue
                assert re.search(rf'name="{re.escape(k)}"[^>]*value="{re.escape(v)}"', html) \
                    or re.search(rf'name="{re.escape(k)}"[\s\S]{{0,4000}}?value="{v}" '
                                 r'selected', html), (k, v)
            assert re.search(rf'value="{re.escape(HEKOU)}"[^>]*checked', html)
            # the drafts page: metadata only
            st, page, _ = await b.get("/app/drafts")
            assert st == 200 and draft in page and CANARY not in page
            assert "Bản nháp (1)" in page
            # the name is in the database only sealed
            stored = _database_bytes(pair, LAOCAI)
            assert b"identification_request" in stored  # the draft's row is in what was read
            assert CANARY.encode() not in stored and "王氏梅".encode() not in stored
            # another user does not see it or open it
            auditor = Browser(pair.api(LAOCAI))
            web_user(pair, LAOCAI, "auditor", "auditor", exists=True, totp=False)
            assert (await auditor.sign_in("auditor", None))[0] == 303
            assert (await auditor.get(f"/app/compose?draft={draft}"))[0] == 403
            await auditor.close()
            assert (await lc.store.call(lc.store.sync.list_drafts, "auditor")) == []
            # saved again with the case reference, then sent: the draft is gone
            st, html, _ = await b.get(f"/app/compose?draft={draft}")
            done = [*typed, ("context.case_reference", "LC-2026-0042"), ("draft", draft),
                    ("form_key", form_key(html))]
            st, _, h = await b.post("/app/compose", done)
            assert (st, h["Location"]) == (303, "/app/sent?ok=1")
            assert await lc.store.call(lc.store.sync.list_drafts, "officer") == []
            assert (await b.get(f"/app/compose?draft={draft}"))[0] == 404

            async def arrived() -> bool:
                return await _inbox(hk) == 1
            await wait_for(arrived, what="the request in Hekou")
            # a draft not saved within the retention period is shredded with the envelopes
            st, html, _ = await b.get("/app/compose?type=case_notice")
            st, _, h = await b.post("/app/compose", [*NOTICE, ("form_key", form_key(html)),
                                                     ("_draft", "1")])
            old = h["Location"].split("draft=")[1].split("&")[0]
            now = lc.clock.now_ms()
            await lc.store.call(lc.store.sync.shred_expired, now + 1, now)
            assert await lc.store.call(lc.store.sync.list_drafts, "officer") == []
            assert (await b.get(f"/app/compose?draft={old}"))[0] == 404
            # deleting from the drafts page
            st, html, _ = await b.get("/app/compose?type=case_notice")
            st, _, h = await b.post("/app/compose", [*NOTICE, ("form_key", form_key(html)),
                                                     ("_draft", "1")])
            third = h["Location"].split("draft=")[1].split("&")[0]
            await b.get("/app/drafts")
            st, _, h = await b.post("/app/drafts/delete", {"draft": third})
            assert (st, h["Location"]) == (303, "/app/drafts?deleted=1")
            st, page, _ = await b.get("/app/drafts")
            assert third not in page and "Bản nháp (0)" in page
        finally:
            await b.close()
    finally:
        await pair.close()
