"""Idempotency-Key on the officer API, driven as a client would: real gateways over HTTP,
on SQLite and PostgreSQL. A retry under one key never makes a second message, whether it
comes after the answer, at the same time, after a broken connection or a restart."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from harness import BACKENDS, Officer, Pair, wait_for
from test_workflow import _agreement, _send_delivered

from gateway.cli.client import OfficerClient
from gateway.node.config import config_problems
from gateway.node.home import add_user
from gateway.protocol.scenario import HEKOU, LAOCAI, case_payloads
from gateway.store import make_engine
from gateway.store.tables import idempotency_keys

MESSAGES = "/api/v1/messages"


@pytest.fixture(params=BACKENDS)
async def pair(request, tmp_path):
    p = Pair(tmp_path, request.param, checkpoint_interval_s=3600)
    yield p
    await p.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def post(o: Officer, path: str, body: Any, key: str | None
               ) -> tuple[int, dict[str, Any], str | None]:
    """(status, JSON answer, Idempotent-Replayed header) of a POST under ``key``."""
    headers = dict(o.h) | ({"Idempotency-Key": key} if key is not None else {})
    async with o.s.post(o.base + path, json=body, headers=headers) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed")


def report() -> dict[str, Any]:
    return {"to": [HEKOU], "payload": case_payloads()[0].payload.to_dict()}


async def sent_count(o: Officer) -> int:
    return len((await o.call("GET", f"{MESSAGES}?limit=1000", expect=200))["messages"])


async def inbox_ids(o: Officer) -> list[str]:
    return [m["message_id"] for m in await o.inbox()]


async def test_same_key_same_body_replays_the_first_answer(pair, session):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    lc, hk = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
    status, first, flag = await post(lc, MESSAGES, report(), "hotline-2024-0001")
    assert (status, first["replayed"], flag) == (201, False, "false")
    status, again, flag = await post(lc, MESSAGES, report(), '"hotline-2024-0001"')
    assert (status, again["replayed"], flag) == (201, True, "true")
    assert again["message_id"] == first["message_id"]
    assert {k: v for k, v in again.items() if k != "replayed"} == \
        {k: v for k, v in first.items() if k != "replayed"}
    # Without a key, each request is a new message (as before).
    status, other, flag = await post(lc, MESSAGES, report(), None)
    assert status == 201 and other["message_id"] != first["message_id"] and flag is None
    assert "replayed" not in other
    await wait_for(lambda: _has(hk, 2), what="both messages at Hekou")
    await asyncio.sleep(0.3)
    assert sorted(await inbox_ids(hk)) == sorted([first["message_id"], other["message_id"]])
    assert await sent_count(lc) == 2


async def _has(o: Officer, n: int) -> bool:
    return len(await o.inbox()) >= n


async def test_same_key_other_request_is_refused_and_keys_are_per_user(pair, session):
    add_user(pair.homes[LAOCAI], "officer2", "officer")
    token2 = (pair.homes[LAOCAI] / "private" / "tokens" / "officer2.token").read_text().strip()
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    lc = pair.officer(session, LAOCAI)
    status, first, _ = await post(lc, MESSAGES, report(), "k-1")
    assert status == 201
    changed = report()
    changed["payload"]["body"]["context"]["case_reference"] = "LC-OTHER-1"
    status, data, _ = await post(lc, MESSAGES, changed, "k-1")
    assert (status, data["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    # The same key on another route is another request too.
    status, data, _ = await post(lc, f"/api/v1/inbox/{first['message_id']}/forward",
                                 {"to": [HEKOU]}, "k-1")
    assert (status, data["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    # Another user's key space is their own: the same key makes their own message.
    lc2 = Officer(session, pair.api(LAOCAI), token2)
    status, theirs, _ = await post(lc2, MESSAGES, report(), "k-1")
    assert status == 201 and theirs["replayed"] is False
    assert theirs["message_id"] != first["message_id"]
    # A request that failed created nothing and did not use up its key.
    unknown = {**report(), "to": ["no-such-office"]}
    status, data, _ = await post(lc, MESSAGES, unknown, "k-2")
    assert (status, data["code"]) == (404, "NOT_FOUND")
    status, data, _ = await post(lc, MESSAGES, report(), "k-2")
    assert (status, data["replayed"]) == (201, False)
    for bad in ("", "a" * 256, "caf\u00e9", 'a"b', "two words"):
        status, data, _ = await post(lc, MESSAGES, report(), bad)
        assert (status, data["code"]) == (400, "BAD_IDEMPOTENCY_KEY"), bad
    assert await sent_count(lc) == 3  # the office's: officer's two and officer2's one


async def test_concurrent_retries_make_one_message_reaching_the_peer_once(pair, session):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    lc, hk = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
    answers = await asyncio.gather(*(post(lc, MESSAGES, report(), "same-report")
                                      for _ in range(5)))
    assert {a[0] for a in answers} == {201}
    assert len({a[1]["message_id"] for a in answers}) == 1
    assert sorted(a[1]["replayed"] for a in answers) == [False, True, True, True, True]
    mid = answers[0][1]["message_id"]
    await wait_for(lambda: _has(hk, 1), what="delivery")
    await asyncio.sleep(0.5)  # time for a second copy, if there were one
    assert await inbox_ids(hk) == [mid]
    assert await sent_count(lc) == 1


async def test_retry_after_a_sender_restart_replays(pair, session):
    await pair.start(LAOCAI)
    lc = pair.officer(session, LAOCAI)
    status, first, _ = await post(lc, MESSAGES, report(), "before-restart")
    assert status == 201
    await pair.stop(LAOCAI)
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    status, again, flag = await post(lc, MESSAGES, report(), "before-restart")
    assert (status, again["message_id"], again["replayed"], flag) == \
        (201, first["message_id"], True, "true")
    hk = pair.officer(session, HEKOU)
    await wait_for(lambda: _has(hk, 1), what="delivery")
    assert await inbox_ids(hk) == [first["message_id"]]


async def test_keys_are_stored_hashed_and_pruned(pair, session):
    await pair.start(LAOCAI)
    lc = pair.officer(session, LAOCAI)
    key = "secret-looking-key-123456"
    status, first, _ = await post(lc, MESSAGES, report(), key)
    assert status == 201
    gw = pair.gateways[LAOCAI]
    with gw.store.sync.engine.connect() as c:
        rows = c.execute(sa.select(idempotency_keys)).all()
    assert len(rows) == 1
    assert rows[0].key_sha256 == hashlib.sha256(key.encode()).digest()
    assert key.encode() not in b"".join(bytes(v) for v in rows[0] if isinstance(v, bytes))
    assert json.loads(rows[0].answer)["message_id"] == first["message_id"]
    # Kept for the configured period (at least 24 h), then pruned: the key is free again.
    assert await gw.store.call(gw.store.sync.prune_idempotency_keys,
                               rows[0].created_at_ms) == 0
    assert await gw.store.call(gw.store.sync.prune_idempotency_keys,
                               rows[0].created_at_ms + 1) == 1
    status, again, _ = await post(lc, MESSAGES, report(), key)
    assert status == 201 and again["replayed"] is False
    assert again["message_id"] != first["message_id"]
    toml = pair.homes[LAOCAI] / "gateway.toml"
    text = toml.read_text()
    assert "idempotency_key_hours = 24.0" in text  # written, with its comment, by init
    toml.write_text(text.replace("idempotency_key_hours = 24.0", "idempotency_key_hours = 1"))
    assert any("idempotency_key_hours" in p for p in config_problems(pair.homes[LAOCAI]))


async def test_countersign_and_forward_replay_under_their_key(pair, session):
    await pair.start(LAOCAI)
    await pair.start(HEKOU)
    steps = case_payloads()
    lc, hk = pair.officer(session, LAOCAI), pair.officer(session, HEKOU)
    plan = await _send_delivered(lc, HEKOU, steps[5].payload)
    await _send_delivered(hk, LAOCAI, _agreement(steps, plan))
    record = await _send_delivered(lc, HEKOU, steps[8].replying_to(plan))

    async def signed_at_hekou() -> bool:
        data = await hk.call("GET", f"/api/v1/records/{record}", expect=200)
        return LAOCAI in data["signatures"]

    await wait_for(signed_at_hekou, what="Lào Cai's signature at Hekou")
    path = f"/api/v1/records/{record}/countersign"
    status, first, _ = await post(hk, path, {}, "sign-once")
    assert (status, first["replayed"]) == (201, False)
    # The retry is answered as the first time, not "already signed" (409).
    status, again, flag = await post(hk, path, {}, "sign-once")
    assert (status, again["signature_message_id"], flag) == \
        (201, first["signature_message_id"], "true")
    status, data, _ = await post(hk, path, {}, "sign-twice")
    assert (status, data["code"]) == (409, "CONFLICT")


def _proxy_dropping_first_answer(upstream_port: int) -> tuple[Any, int]:
    """A TCP proxy that forwards the first request but drops the connection before its
    answer reaches the client (the gateway took it; the client cannot know)."""
    import contextlib
    import socket
    import threading

    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    state = {"dropped": False}

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", upstream_port))
            if not state["dropped"]:
                state["dropped"] = True
                up.sendall(_whole_request(client))
                time.sleep(0.05)
                up.recv(65536)  # the gateway answered: the answer is lost
                client.close()
                up.close()
                continue
            threading.Thread(target=pipe, args=(client, up), daemon=True).start()
            threading.Thread(target=pipe, args=(up, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return lsock, int(lsock.getsockname()[1])


def _whole_request(sock: Any) -> bytes:
    """Head and body of one request (a client may write them separately: on a loaded machine
    one recv can return the head alone)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


async def test_client_retries_a_broken_connection_under_its_key(pair, session):
    await pair.start(LAOCAI)
    lc = pair.officer(session, LAOCAI)
    lsock, port = _proxy_dropping_first_answer(pair.ports[LAOCAI][1])
    try:
        client = OfficerClient(f"http://127.0.0.1:{port}", pair.tokens[LAOCAI]["officer"])
        res = await asyncio.to_thread(client.send, [HEKOU], report()["payload"])
    finally:
        lsock.close()
    assert res["replayed"] is True  # the first attempt had been taken
    assert client.last_replayed is True
    sent = (await lc.call("GET", MESSAGES, expect=200))["messages"]
    assert [m["message_id"] for m in sent] == [res["message_id"]]


def test_cli_send_with_a_key_twice_sends_once(tmp_path):
    import signal

    from gateway.cli.demo import GatewayProcess

    pair = Pair(tmp_path, "sqlite", checkpoint_interval_s=3600)
    gp = GatewayProcess(pair.homes[LAOCAI])
    try:
        gp.start()
        client = OfficerClient.for_home(pair.homes[LAOCAI], "officer")
        gp.wait_healthy(client)
        payload = tmp_path / "report.json"
        payload.write_text(json.dumps(report()["payload"]), encoding="utf-8")
        token = pair.homes[LAOCAI] / "private" / "tokens" / "officer.token"
        cmd = [sys.executable, "-m", "gateway", "send", str(payload), "--to", HEKOU,
               "--api", client.base_url, "--token-file", str(token), "--json"]
        outs = [json.loads(subprocess.run([*cmd, "--idempotency-key", "cli-key-7f3a9c"], check=True,
                                          capture_output=True, text=True).stdout)
                for _ in range(2)]
        assert outs[0]["message_id"] == outs[1]["message_id"]
        assert (outs[0]["replayed"], outs[1]["replayed"]) == (False, True)
        # Without --idempotency-key each invocation is its own submission.
        third = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                          text=True).stdout)
        assert third["message_id"] != outs[0]["message_id"] and third["replayed"] is False
        assert len(client.sent()) == 2
        log = (pair.homes[LAOCAI] / "gateway.log").read_text(errors="replace")
        assert "request_replayed" in log and "cli-key-7f3a9c" not in log  # never logged
    finally:
        gp.stop(signal.SIGKILL)
        asyncio.run(pair.close())


def test_migration_creates_the_table_as_declared(tmp_path):
    from gateway.store import migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    cols = {c["name"] for c in sa.inspect(engine).get_columns("idempotency_keys")}
    assert cols == {c.name for c in idempotency_keys.columns}
    engine.dispose()
