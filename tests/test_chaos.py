"""The fault suite, short: real gateway processes (tools/chaos.py) under keyed sends while
a fault hits them. Each case: 0 lost, 0 duplicated (receivers' inboxes, idempotency keys),
every message delivered with a verified receipt, both audit logs verify offline with the
pinned roots, and the canary string of the payloads is in no file of the homes."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import BACKENDS, PG_DSN, load_script

from gateway.protocol.scenario import LAOCAI

chaos = load_script(Path(__file__).parents[1] / "tools" / "chaos.py", "blo_chaos_tool")


def _assert_clean(r, sent: int, receivers: int = 1) -> None:
    assert not r.problems, r.problems
    assert r.sent == sent
    assert r.lost == 0 and r.duplicated == 0
    assert r.received == sent * receivers
    assert r.receipted == sent
    assert r.logs_ok
    assert r.canary_found == []
    assert r.ok


@pytest.fixture(params=BACKENDS)
def dsn(request) -> str:
    return PG_DSN if request.param == "postgres" else ""


# The network faults do not depend on the store: SQLite only, to keep CI short. The crash
# case runs on both backends (tools/chaos.py --pg runs every fault on PostgreSQL).
def test_receiver_hung_by_sigstop_during_sends(tmp_path):
    r = chaos.run_fault("stop", tmp_path, 20, seconds=3.0)
    _assert_clean(r, 20)


def test_slow_link_through_a_delaying_proxy(tmp_path):
    r = chaos.run_fault("slow", tmp_path, 12, delay_s=0.2)
    _assert_clean(r, 12)


def test_one_peer_down_while_the_other_keeps_receiving(tmp_path):
    # run_fault waits for Hekou to hold every message before the post starts at all.
    r = chaos.run_fault("down", tmp_path, 15)
    _assert_clean(r, 15, receivers=2)


def test_sender_killed_twice_during_100_keyed_sends(tmp_path, dsn):
    r = chaos.run_fault("kill", tmp_path, 100, kills=2, kill_only=LAOCAI, pg_dsn=dsn)
    _assert_clean(r, 100)


def test_the_checks_can_fail(tmp_path):
    """The counting is not vacuous: a message the receiver never got counts as lost, a
    canary written into a home is found, and the table says FAIL."""
    r = chaos.Result("kill", sent=2, received=1, lost=1, receipted=2, logs_ok=True)
    assert not r.ok and "FAIL" in chaos.table([r])
    assert chaos.Result("x", sent=1, received=1, receipted=1, logs_ok=True).ok
    assert not chaos.Result("x", sent=1, received=2, duplicated=1, receipted=1,
                            logs_ok=True).ok
