"""The fault suite, short: real gateway processes (tools/chaos.py) under keyed sends while
a fault hits them. Each case: 0 lost, 0 duplicated (receivers' inboxes, idempotency keys),
every message delivered with a verified receipt, both audit logs verify offline with the
pinned roots, and the canary string of the payloads is in no file of the homes.

A case is skipped only when this machine lacks what its fault needs (PostgreSQL server
binaries and root for a private cluster, libfaketime), and the skip says which."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import BACKENDS, PG_DSN, load_script

from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD

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
    assert not chaos.Result("x", sent=1, received=2, dup_id=1, receipted=1, logs_ok=True).ok
    assert not chaos.Result("x", sent=1, received=2, dup_key=1, receipted=1, logs_ok=True).ok
    # A slow peer holding back the healthy one is a problem, not a figure.
    fast = {"created_at_ms": 0, "deliveries": [
        {"to": HEKOU, "delivered_at_ms": 3000}, {"to": LAOCAI_BORDER_GUARD,
                                                  "delivered_at_ms": 3500}]}
    held = chaos.Result("slowpeer")
    chaos._judge_slowpeer(held, {"m": fast})
    assert held.problems and not held.ok


def _needs(fault: str, dsn: str = "") -> None:
    why = chaos.missing(fault, dsn)
    if why:
        pytest.skip(why)


def test_database_server_restarted_under_load(tmp_path):
    """A private throwaway PostgreSQL cluster (never the shared one) stopped for 2 s under
    keyed sends: 503 + Retry-After meanwhile, /health names the store, all delivered."""
    _needs("pgrestart")
    r = chaos.run_fault("pgrestart", tmp_path, 20, seconds=2.0)
    _assert_clean(r, 20)
    assert r.injected == 1
    assert any("named the store (STORAGE_UNAVAILABLE)" in n for n in r.notes), r.notes


def test_database_sessions_terminated_under_load(tmp_path):
    """pg_terminate_backend of the two gateways' own sessions (``blo-gateway <schema>``)
    every 0.2 s for 2 s of keyed sends (the shared server when GATEWAY_TEST_PG_DSN is set,
    else a private cluster)."""
    _needs("pgkill", PG_DSN)
    r = chaos.run_fault("pgkill", tmp_path, 20, seconds=2.0, pg_dsn=PG_DSN)
    _assert_clean(r, 20)
    assert r.injected > 0


def test_full_disk_under_an_sqlite_home(tmp_path):
    """Lào Cai's home on a 48 MB tmpfs (else a file-size limit) filled under load: 507
    STORAGE_FULL, never 500; space freed, the keyed retries go through."""
    _needs("disk")
    r = chaos.run_fault("disk", tmp_path, 20, seconds=1.0)
    assert r.sent >= 20  # the sender goes on until the full disk has refused one
    _assert_clean(r, r.sent)
    assert any("507 STORAGE_FULL" in n and "0 answers" not in n for n in r.notes), r.notes


def test_clock_beyond_the_skew_window_and_back(tmp_path):
    """Lào Cai restarted 10 s ahead (libfaketime; max_skew_ms 2 s): Hekou refuses its
    requests with EXPIRED, the messages stay queued; restarted on time, all delivered."""
    _needs("clock")
    r = chaos.run_fault("clock", tmp_path, 20, seconds=2.0)
    _assert_clean(r, 20)


def test_one_slow_peer_does_not_hold_back_the_other(tmp_path):
    """Three gateways; the Border Guard post behind a link holding each chunk 1 s: Hekou's
    deliveries keep their pace (p50 under half the slow peer's)."""
    r = chaos.run_fault("slowpeer", tmp_path, 20, slow_peer_delay_s=1.0)
    _assert_clean(r, 20, receivers=2)
