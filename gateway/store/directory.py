"""Directory history: every trust directory this gateway accepted; the highest wins.

``directory_compare`` tells a new directory from a rollback or a fork (same serial,
other bytes); ``node.trust`` decides what to do about it.
"""

from __future__ import annotations

import hmac
from typing import Any

import sqlalchemy as sa

from gateway.store.engine import StoreBase
from gateway.store.tables import directory_history

__all__ = ["DirectoryHistoryMixin"]


def _directory_compare(c: sa.Connection, serial: int, sha256: bytes) -> tuple[str, int]:
    top = int(c.execute(sa.select(sa.func.max(directory_history.c.serial))).scalar() or 0)
    if serial < top:  # also one accepted before but since superseded
        return "rollback", top
    held = c.execute(sa.select(directory_history.c.sha256).where(
        directory_history.c.serial == serial)).scalar()
    if held is not None:
        return ("same" if hmac.compare_digest(bytes(held), sha256) else "fork"), top
    return "new", top


class DirectoryHistoryMixin(StoreBase):
    """Accepted directories, by serial."""

    def directory_latest(self) -> dict[str, Any] | None:
        """The accepted directory with the highest serial: serial, sha256, accepted_at_ms, body."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(directory_history).order_by(
                directory_history.c.serial.desc()).limit(1)).first()
        if row is None:
            return None
        d = dict(row._mapping)
        d["sha256"], d["body"] = bytes(d["sha256"]), bytes(d["body"])
        return d

    def directory_bodies(self) -> list[tuple[bytes, int]]:
        """Every accepted directory (the ``SignedDirectory`` bytes) with the moment it was
        accepted (``accepted_at_ms``, this gateway's clock), by serial."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(directory_history.c.body,
                                       directory_history.c.accepted_at_ms)
                             .order_by(directory_history.c.serial)).all()
        return [(bytes(r.body), int(r.accepted_at_ms)) for r in rows]

    def directory_compare(self, serial: int, sha256: bytes) -> tuple[str, int]:
        """How a directory stands against those accepted before: ``new``, ``same``,
        ``rollback`` (lower serial) or ``fork`` (same serial, other bytes), and the
        highest serial accepted (0 if none)."""
        with self.engine.connect() as c:
            return _directory_compare(c, serial, sha256)

    def directory_record(self, serial: int, sha256: bytes, body: bytes, *, now_ms: int,
                         source: str) -> tuple[str, int]:
        """Remember a directory as accepted, if it is ``new`` (checked in the same
        transaction); returns what ``directory_compare`` found."""
        with self._tx() as (c, ev):
            outcome, top = _directory_compare(c, serial, sha256)
            if outcome == "new":
                c.execute(sa.insert(directory_history).values(
                    serial=serial, sha256=sha256, accepted_at_ms=now_ms, body=body))
                # source: "start", "install", "store", "peer:<office>" or "officer:<user>"
                kind, _, who = source.partition(":")
                event = {"t": now_ms, "type": "directory.accepted", "serial": serial,
                         "directory_sha256": sha256.hex(), "kind": kind}
                if who:
                    event["peer" if kind == "peer" else "user"] = who
                ev.append(event)
        return outcome, top
