"""Peers and nonces: what we know of each peer office, and replay protection."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.store.engine import StoreBase
from gateway.store.tables import nonces, outbox, peer_state

__all__ = ["PeersMixin"]


class PeersMixin(StoreBase):
    """Peer state, seen nonces and the per-peer backlog."""

    def remember_nonce(self, peer: str, nonce: str, *, now_ms: int, expires_ms: int) -> bool:
        """False if (peer, nonce) was seen and has not expired: a replay."""
        with self.engine.begin() as c:
            row = c.execute(sa.select(nonces.c.expires_ms).where(
                nonces.c.peer == peer, nonces.c.nonce == nonce)).first()
            if row is not None:
                return False
            c.execute(sa.insert(nonces).values(peer=peer, nonce=nonce, expires_ms=expires_ms))
            return True

    def prune_nonces(self, now_ms: int) -> int:
        with self.engine.begin() as c:
            return int(c.execute(sa.delete(nonces).where(nonces.c.expires_ms < now_ms)).rowcount)

    def peer_get(self, peer: str) -> dict[str, Any]:
        with self.engine.connect() as c:
            row = c.execute(sa.select(peer_state).where(peer_state.c.peer == peer)).first()
        if row is None:
            return {"peer": peer, "failures": 0, "next_attempt_ms": 0, "last_success_ms": None,
                    "last_failure_ms": None, "last_error_code": None, "last_error": None,
                    "last_seen_ms": None, "clock_skew_ms": None}
        return dict(row._mapping)

    def peer_update(self, peer: str, **values: Any) -> None:
        with self.engine.begin() as c:
            n = c.execute(sa.update(peer_state).where(peer_state.c.peer == peer)
                          .values(**values)).rowcount
            if n == 0:
                base = {"failures": 0, "next_attempt_ms": 0, **values}
                c.execute(sa.insert(peer_state).values(peer=peer, **base))

    def peer_seen(self, peer: str, now_ms: int, skew_ms: int) -> None:
        """Authenticated traffic from ``peer``: reset its backoff and its messages' waits."""
        with self.engine.begin() as c:
            n = c.execute(sa.update(peer_state).where(peer_state.c.peer == peer).values(
                last_seen_ms=now_ms, clock_skew_ms=skew_ms, failures=0,
                next_attempt_ms=0)).rowcount
            if n == 0:
                c.execute(sa.insert(peer_state).values(peer=peer, failures=0, next_attempt_ms=0,
                                                       last_seen_ms=now_ms,
                                                       clock_skew_ms=skew_ms))
            c.execute(sa.update(outbox).where(outbox.c.peer == peer, outbox.c.state == "queued",
                                              outbox.c.next_attempt_ms > now_ms)
                      .values(next_attempt_ms=now_ms))

    def backlog(self) -> dict[str, dict[str, int]]:
        q = sa.select(outbox.c.peer, outbox.c.state, sa.func.count()).group_by(
            outbox.c.peer, outbox.c.state)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as c:
            for peer, state, n in c.execute(q):
                out.setdefault(peer, {})[state] = int(n)
        return out
