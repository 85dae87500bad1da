"""A large backlog and a long-running store: the delivery queue gives urgent rows first and
the oldest first within a priority; the statements of the hot path read through an index,
never the whole of a table that grows with every message; request nonces are pruned once
their skew window has passed, and a replay is still refused after. SQLite and, with
GATEWAY_TEST_PG_DSN, PostgreSQL (the query plans: SQLite)."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from harness import BACKENDS, PG_DSN, Pair

from gateway.node.clock import FakeClock
from gateway.node.delivery import frame_batch
from gateway.protocol import envelope
from gateway.protocol.messages import MessageType, Priority
from gateway.protocol.peerauth import sign_request
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from gateway.store import Due, Incoming, Store, Submission, make_engine, migrate
from gateway.store.tables import nonces

PATH = "/peer/v1/envelopes"
#: Tables that grow with every message: no hot statement may scan one of them whole.
GROWING = ("envelopes", "outbox", "inbox", "receipts", "content_keys", "audit_leaves",
           "audit_nodes", "case_items", "nonces")


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/s.db")
    else:
        schema = f"t_bl_{secrets.token_hex(6)}"
        engine = make_engine(PG_DSN, schema=schema)
    migrate(engine)
    yield Store(engine, LAOCAI)
    if request.param == "postgres":
        with engine.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def incoming(n: int, priority: Priority, sender: str = LAOCAI,
             to: tuple[str, ...] = (HEKOU,)) -> Incoming:
    """A stored envelope's metadata (the store does not parse ``raw``)."""
    raw = f"envelope {n} {secrets.token_hex(8)}".encode()
    now = int(time.time() * 1000)
    return Incoming(secrets.token_bytes(16), sender, to, int(MessageType.CASE_NOTICE),
                    hashlib.sha256(raw).digest(), raw, now, now + 86_400_000, f"BL-{n}", "",
                    int(priority), 1, 0)


def test_urgent_first_then_oldest_and_only_what_is_due(store):
    order = [Priority.ROUTINE] * 30 + [Priority.URGENT, Priority.HIGH, Priority.ROUTINE,
                                        Priority.URGENT, Priority.HIGH]
    now = int(time.time() * 1000)
    items = [incoming(i, p) for i, p in enumerate(order)]
    store.submit_many([Submission(inc, (HEKOU,), now, "mai.officer") for inc in items])
    ids = {i.message_id: n for n, i in enumerate(items)}

    def due(at: int, limit: int) -> list[int]:
        return [ids[g.message_id] for g in store.due(HEKOU, at, limit)]

    assert due(now, 6) == [30, 33, 31, 34, 0, 1]
    first = store.due(HEKOU, now, 1)[0]
    # The first urgent one backs off: it is not due until its time, the others move up.
    store.record_results(HEKOU, now_ms=now, delivered=[], dead=[],
                         retry=[(first.outbox_id, now + 60_000, "PEER_UNAVAILABLE", "down")])
    assert due(now, 4) == [33, 31, 34, 0]
    later = store.due(HEKOU, now + 60_000, 2)
    assert [ids[g.message_id] for g in later] == [30, 33]
    store.record_results(HEKOU, now_ms=now, dead=[], retry=[], items=later, delivered=[
        (g.outbox_id, g.envelope_id, b"receipt", now) for g in later])
    assert due(now + 60_000, 4) == [31, 34, 0, 1]
    # A limit larger than the queue returns all of it, each row once.
    everything = store.due(HEKOU, now + 60_000, 100)
    assert len(everything) == len({g.outbox_id for g in everything}) == len(items) - 2
    assert store.due(LAOCAI, now + 60_000, 100) == []


def test_a_batch_takes_no_more_than_fits_in_one_request(store):
    """With ``max_bytes``, ``due`` takes rows in order while the request they make (each
    envelope framed with its 4-byte length) fits; the first is taken whatever its size; and
    ``due_or_next`` says the read stopped at a limit (more may be due now) or did not."""
    now = int(time.time() * 1000)
    items = [incoming(i, Priority.ROUTINE) for i in range(5)]
    store.submit_many([Submission(inc, (HEKOU,), now, "mai.officer") for inc in items])
    size = 4 + len(items[0].raw)
    assert all(4 + len(i.raw) == size for i in items)
    assert len(store.due(HEKOU, now, 10, max_bytes=3 * size)) == 3
    assert len(store.due(HEKOU, now, 10, max_bytes=3 * size - 1)) == 2
    assert len(store.due(HEKOU, now, 10, max_bytes=size // 2)) == 1  # the first always goes
    cut = store.due_or_next(HEKOU, now, 10, max_bytes=2 * size)
    assert [g.message_id for g in cut.items] == [i.message_id for i in items[:2]] and cut.full
    assert store.due_or_next(HEKOU, now, 5).full  # stopped at the row limit
    whole = store.due_or_next(HEKOU, now, 10, max_bytes=5 * size)
    assert len(whole.items) == 5 and not whole.full
    assert store.due_or_next(HEKOU, now, 10, {g.outbox_id for g in whole.items}) == \
        Due([], next_ms=0)  # nothing due beside those in flight; all of them due since 0


def test_rows_in_flight_are_left_out_and_a_reply_waits_for_its_original(store):
    """``due`` leaves out the rows of the batches in flight; a reply of ours (urgent) to a
    message of ours still queued (routine) waits for it, also while it is in flight; a
    reply to a message the peer sent us (not in our outbox) never waits."""
    now = int(time.time() * 1000)
    first, original = incoming(0, Priority.ROUTINE), incoming(1, Priority.ROUTINE)
    reply = dataclasses.replace(incoming(2, Priority.URGENT),
                                in_reply_to=original.message_id.hex())
    to_theirs = dataclasses.replace(incoming(3, Priority.HIGH),
                                    in_reply_to=secrets.token_hex(16))
    store.submit_many([Submission(i, (HEKOU,), now, "mai.officer")
                       for i in (first, original, reply, to_theirs)])
    names = {first.message_id: "first", original.message_id: "original",
             reply.message_id: "reply", to_theirs.message_id: "to_theirs"}

    def due(limit: int, exclude: set[int] = set()) -> list[str]:  # noqa: B006
        return [names[g.message_id] for g in store.due(HEKOU, now, limit, exclude)]

    # Urgent first, but the reply is not due before the original: not in this batch either,
    # where it would come first.
    assert due(10) == ["to_theirs", "first", "original"]
    batch = store.due(HEKOU, now, 2)
    assert [names[g.message_id] for g in batch] == ["to_theirs", "first"]
    flying = {g.outbox_id for g in batch}
    assert due(10, flying) == ["original"]
    second = store.due(HEKOU, now, 10, flying)
    flying |= {g.outbox_id for g in second}
    assert due(10, flying) == []  # the reply waits while its original is in flight
    store.record_results(HEKOU, now_ms=now, dead=[], retry=[], items=second, delivered=[
        (g.outbox_id, g.envelope_id, b"receipt", now) for g in second])
    assert due(10, flying) == ["reply"]


def test_replies_that_wait_hold_back_nothing_else(store):
    """Originals backing off (peer refused them for a while), urgent replies to them that
    wait, and an unrelated urgent message behind the replies: it goes, even one at a time;
    and the worker's next wake-up is when an original is due again, not now."""
    now = int(time.time() * 1000)
    originals = [incoming(i, Priority.ROUTINE) for i in range(3)]
    replies = [dataclasses.replace(incoming(10 + i, Priority.URGENT),
                                   in_reply_to=o.message_id.hex())
               for i, o in enumerate(originals)]
    other = incoming(20, Priority.URGENT)
    store.submit_many([Submission(i, (HEKOU,), now, "mai.officer")
                       for i in (*originals, *replies, other)])
    sent = store.due(HEKOU, now, 3)
    assert [g.message_id for g in sent] == [other.message_id, *(o.message_id for o in
                                                                 originals[:2])]
    later = now + 60_000
    store.record_results(HEKOU, now_ms=now, delivered=[], dead=[], items=sent, retry=[
        (g.outbox_id, later, "BUSY", "busy") for g in sent if g.message_id != other.message_id])
    store.record_results(HEKOU, now_ms=now, dead=[], retry=[], items=sent, delivered=[
        (g.outbox_id, g.envelope_id, b"receipt", now) for g in sent
        if g.message_id == other.message_id])
    assert [g.message_id for g in store.due(HEKOU, now, 1)] == [originals[2].message_id]
    assert store.next_due_ms(HEKOU) <= now  # replies are queued and due, but they wait
    assert store.next_due_ms(HEKOU, now) == later


def test_writes_share_one_commit_and_one_that_fails_fails_alone(store):
    """``Store.together`` (the group commit of submissions, delivery results and
    receptions): writes that all succeed take one transaction; when one fails (here a
    message id stored before: a unique violation), it alone fails and the others are
    stored, each once, with an audit log that stays whole."""
    now = int(time.time() * 1000)
    first, second, third, fourth = (incoming(i, Priority.ROUTINE) for i in range(4))

    def job(*items: Incoming) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        return (store.submit_many,
                ([Submission(i, (HEKOU,), now, "mai.officer") for i in items],), {})

    commits: list[int] = []
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
    assert store.together([job(first), job(second)]) == [(True, None), (True, None)]
    assert len(commits) == 1
    (ok3, _), (ok_again, error) = store.together([job(third), job(first)])
    assert ok3 and not ok_again and isinstance(error, sa.exc.IntegrityError)
    (ok4, _), = store.together([job(fourth)])
    assert ok4
    due = [g.message_id for g in store.due(HEKOU, now, 10)]
    assert due == [i.message_id for i in (first, second, third, fourth)]
    with store.engine.connect() as c:
        n, top = c.execute(sa.text("SELECT count(*), max(idx) FROM audit_leaves")).one()
    assert n == top + 1 == 4  # one message.created each, no gap, nothing twice


def test_hot_statements_read_through_an_index(tmp_path):
    """Submission, the delivery queue, its results and reception, on a store that holds
    messages already: every SELECT, UPDATE and DELETE is an index search (SQLite's plan)."""
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    migrate(engine)
    st = Store(engine, HEKOU)
    now = int(time.time() * 1000)
    st.submit_many([Submission(incoming(i, Priority.ROUTINE, HEKOU, (LAOCAI,)), (LAOCAI,), now,
                               "li.officer") for i in range(50)])
    st.receive([incoming(i, Priority.ROUTINE) for i in range(50)], now_ms=now, me=HEKOU,
               sign_receipt=lambda inc, at: b"receipt")
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE"):
            seen.append((statement, parameters[0] if executemany else parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    first = incoming(99, Priority.URGENT, HEKOU, (LAOCAI,))
    reply = dataclasses.replace(incoming(98, Priority.URGENT, HEKOU, (LAOCAI,)),
                                in_reply_to=first.message_id.hex())  # due looks up `first`
    st.submit_many([Submission(i, (LAOCAI,), now, "li.officer") for i in (first, reply)])
    due = st.due(LAOCAI, now, 10, {10**9})  # with rows in flight (none of these)
    receipt = (due[0].outbox_id, due[0].envelope_id, b"receipt", now)
    st.record_results(LAOCAI, now_ms=now, delivered=[receipt], dead=[], items=due,
                      retry=[(d.outbox_id, now + 1000, "PEER_UNAVAILABLE", "x") for d in due[1:]])
    st.receive([incoming(100 + i, Priority.ROUTINE) for i in range(5)], now_ms=now, me=HEKOU,
               sign_receipt=lambda inc, at: b"receipt", nonce=(LAOCAI, "n-1", now + 600_000))
    st.prune_nonces(now)
    sa.event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) >= 6
    with engine.connect() as c:
        for statement, params in seen:
            plan = c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            for row in plan:
                detail = row[3]
                assert not any(detail.startswith(f"SCAN {t}") for t in GROWING), (statement,
                                                                                   detail)
                assert "TEMP B-TREE" not in detail, (statement, detail)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param)
    yield p
    await p.close()


async def test_nonces_are_pruned_after_the_skew_window(pair):
    t0 = int(time.time() * 1000)
    clock = FakeClock(t0)
    hk = await pair.start(HEKOU, clock=clock)
    skew = hk.config.max_skew_ms

    def count() -> int:
        with hk.store.sync.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(nonces)).scalar() or 0)

    requests = []
    async with aiohttp.ClientSession() as s:
        for i in range(3):
            body = frame_batch([envelope.seal(
                case_payloads()[0].payload, sender=pair.net.keyrings[LAOCAI],
                recipients=[HEKOU], directory=pair.net.directory(), now_ms=t0)])
            h = sign_request(pair.net.keyrings[LAOCAI], method="POST", path_qs=PATH,
                             destination=HEKOU, body=body, now_ms=t0 + i)
            async with s.post(pair.peer(HEKOU) + PATH, data=body, headers=h) as r:
                assert r.status == 200, await r.text()
            requests.append((body, h))
        assert count() == 3
        clock.advance(2 * skew - 10)  # still inside the window of each: kept
        await hk.sweep()
        assert count() == 3
        clock.advance(20)
        await hk.sweep()
        assert count() == 0
        # Pruning never reopens a replay: the request's own time is now outside the window.
        body, h = requests[0]
        async with s.post(pair.peer(HEKOU) + PATH, data=body, headers=h) as r:
            assert (await r.json())["code"] == "EXPIRED"
        assert count() == 0


def test_hot_inserts_write_what_the_store_reads_back(store):
    """The hot inserts go through the driver's executemany (``StoreBase._insert_rows``): what
    they wrote reads back through the store, on each backend; a receipt recorded twice (a
    peer's answer to a re-sent envelope) keeps one row, and the audit tree stays whole."""
    now = int(time.time() * 1000)
    envs = [incoming(i, Priority.ROUTINE) for i in range(3)]
    store.submit_many([Submission(e, (HEKOU,), now, "officer") for e in envs])
    items = store.due(HEKOU, now, 10)
    assert [i.message_id for i in items] == [e.message_id for e in envs]
    assert [i.raw for i in items] == [e.raw for e in envs]  # content key + sealed envelope
    delivered = [(i.outbox_id, i.envelope_id, b"receipt %d" % n, now)
                 for n, i in enumerate(items)]
    for _ in range(2):
        store.record_results(HEKOU, now_ms=now, delivered=delivered, retry=[], dead=[],
                             items=items)
    st = store.message_status(envs[1].message_id, LAOCAI)
    assert st is not None and st["deliveries"][0]["state"] == "delivered"
    assert st["deliveries"][0]["receipt"] == b"receipt 1"
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM receipts")).scalar() == 3
    size, root = store.audit_head()
    store._edge = None  # reload the edge from the stored nodes: the same root
    assert store.audit_head() == (size, root) and size >= 3 + 3 + 3


def _worker(read: Any, batch_size: int) -> Any:
    """A delivery worker for Hekou on a stand-in gateway whose queue reads are ``read``
    (clock fixed at 1,000,000 ms, two batches in flight at most)."""
    import types

    from gateway.node.delivery import PeerDelivery

    gw = types.SimpleNamespace(
        clock=types.SimpleNamespace(now_ms=lambda: 1_000_000),
        config=types.SimpleNamespace(batch_size=batch_size, batches_in_flight=2,
                                     max_request_bytes=1 << 20),
        store=types.SimpleNamespace(read=read, sync=types.SimpleNamespace(due_or_next=None)))
    return PeerDelivery(gw, HEKOU, "http://127.0.0.1:9")


async def test_a_batch_that_lands_during_an_empty_read_makes_the_worker_read_again():
    """The worker launches a batch, then reads the queue; the batch lands (its rows put back
    for a retry) while that read runs, and the read finds nothing. The worker must read
    again (and so learn when the rows are due), not wait with nothing in flight and no timer:
    that would leave the rows until another submission woke it."""
    import asyncio
    import types

    landed = asyncio.Event()
    reads: list[set[int]] = []
    waits: list[tuple[float | None, int]] = []

    async def read(fn, peer, now, n, flying, max_bytes):
        reads.append(set(flying))
        if len(reads) == 1:
            return Due([types.SimpleNamespace(outbox_id=1)], full=True)  # its limit: 1
        if len(reads) == 2:
            landed.set()  # the batch lands while this read runs
            await asyncio.sleep(0.01)
            return Due([])  # read before the landing: nothing due, nothing queued
        return Due([], next_ms=now + 100)  # the rows put back, due in 100 ms

    worker = _worker(read, batch_size=1)

    async def send(items):
        await landed.wait()

    async def wait(seconds):
        waits.append((seconds, len(worker._flights)))

    worker.send = send  # type: ignore[method-assign]
    worker._wait = wait  # type: ignore[method-assign]
    for _ in range(3):
        await worker._step()
    assert reads == [set(), {1}, set()]  # read again once the batch had landed
    assert (None, 0) not in waits  # never a wait without a timer and with nothing in flight
    assert waits == [(0.1, 0)]


async def test_a_read_cut_short_by_a_limit_is_followed_by_another_while_the_batch_flies():
    """A read that stopped at the byte limit (fewer rows than a batch, ``Due.full``) is
    followed at once by another read, the first batch still in flight: a backlog of large
    messages uses every request in flight (``batches_in_flight``), not one at a time."""
    import asyncio
    import types

    reads: list[set[int]] = []
    waits: list[float | None] = []

    async def read(fn, peer, now, n, flying, max_bytes):
        reads.append(set(flying))
        return Due([types.SimpleNamespace(outbox_id=len(reads))], full=True)

    worker = _worker(read, batch_size=8)
    never = asyncio.Event()

    async def send(items):
        await never.wait()

    async def wait(seconds):
        waits.append(seconds)

    worker.send = send  # type: ignore[method-assign]
    worker._wait = wait  # type: ignore[method-assign]
    try:
        for _ in range(3):
            await worker._step()
        assert reads == [set(), {1}]  # read again with the first batch in flight
        assert waits == [None]  # then two in flight: wait for one to land
    finally:
        for flight in worker._flights:
            flight.cancel()


async def test_replies_that_wait_are_looked_at_again_within_a_few_seconds():
    """Rows are due but the read took none (replies waiting for a message of ours that backs
    off, or more of them than ``due`` reads past): the worker waits until the next row is due
    after now, and never longer than ``HELD_POLL_S`` (``due`` reads only so far)."""

    from gateway.node.delivery import HELD_POLL_S

    waits: list[float | None] = []
    later = [None, 2_000, 60_000]

    async def read(fn, peer, now, n, flying, max_bytes):
        after = later[len(waits)]
        return Due([], next_ms=now - 1_000, later_ms=None if after is None else now + after)

    worker = _worker(read, batch_size=8)

    async def wait(seconds):
        waits.append(seconds)

    worker._wait = wait  # type: ignore[method-assign]
    for _ in range(3):
        await worker._step()
    assert waits == [HELD_POLL_S, 2.0, HELD_POLL_S]
