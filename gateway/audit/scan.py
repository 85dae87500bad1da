"""Reading one log's leaves at speed: check each leaf, hash it, build the tree's levels.

Offline verification reads millions of leaves; this module is its hot loop, kept apart from
the verdict logic in ``verify``. Invariants:

* A leaf is accepted only if ``leaves.decode_leaf`` accepts it. The fast path is one regular
  expression (``leaves.CANONICAL_LEAF``, built from the same field rules) that matches only
  canonical leaves with valid fields; a line it does not match goes to ``decode_leaf``,
  which decides and says why.
* Leaf hashes are over the exact bytes logged (``LEAF_PREFIX ‖ line``).
* Large logs are cut into chunks of 2^k leaves, one per task on every core (fork start
  method: the lines are inherited, not copied); each chunk's tree levels join into the whole
  tree's because the chunks are aligned, and the levels above are built once they are joined.
* What the verdict needs of the leaves comes back compact (a worker's result is pickled): the
  count of each event type, each leaf's time as one array, and the few fields of the events
  that sends and receipts are matched on as one text, turned into tuples only when a second
  bundle is there to match them against (``Scan.events``).
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from hashlib import sha256
from typing import Final

from gateway.audit.leaves import CANONICAL_LEAF, FIELD_ORDER, LEAF_PREFIX, decode_leaf
from gateway.audit.merkle import grow_levels
from gateway.protocol.errors import (
    AuditEntryEdited,
    AuditProblem,
    AuditSequenceBroken,
    GatewayError,
)

__all__ = ["ENV", "MATCHED", "MID", "PEER", "PEERS", "REC", "TYPE", "Ev", "Scan", "scan_leaves"]

#: An event that sends and receipts are matched on, as a plain tuple:
#: (type, peer, peers, message_id, envelope_sha256, receipt_sha256).
Ev = tuple[str, str, tuple[str, ...], str, str, str]
TYPE: Final = 0
PEER: Final = 1
PEERS: Final = 2
MID: Final = 3
ENV: Final = 4
REC: Final = 5
#: The event types ``Ev`` rows are kept for.
MATCHED: Final = frozenset({"message.created", "message.delivered", "message.dead",
                            "envelope.received"})
_BROKEN = "?"  # the type counted for a leaf that is not a valid leaf


@dataclass
class Scan:
    """One log's leaves, read: the tree, the first problem, and what the verdict needs."""

    levels: list[bytes]  # merkle.grow_levels of the leaf hashes
    problem: tuple[type[AuditProblem], str] | None
    counts: Counter[str]  # leaves per event type
    times: array[int]  # each leaf's "t" (0 where absent or broken)
    rows: str  # the MATCHED events, one per line, fields joined by tabs

    def events(self) -> list[Ev]:
        """The MATCHED events as tuples (built on demand: millions of small objects)."""
        out: list[Ev] = []
        for row in self.rows.split("\n") if self.rows else ():
            typ, peer, peers, mid, env, rec = row.split("\t")
            out.append((typ, peer, tuple(peers.split(",")) if peers else (), mid, env, rec))
        return out


_G = {k: i for i, k in enumerate(FIELD_ORDER)}
_G_TYPE, _G_PEER, _G_PEERS, _G_MID = _G["type"], _G["peer"], _G["peers"], _G["message_id"]
_G_ENV, _G_REC, _G_T = _G["envelope_sha256"], _G["receipt_sha256"], _G["t"]
_G_SEQ, _G_OFFICE = _G["seq"], _G["office"]
_PARALLEL_FROM = 200_000
_PREFIX: Final = b"\x00" + LEAF_PREFIX  # merkle.leaf_hash's domain byte, then the leaf's

_LINES: list[bytes] = []  # shared with forked workers without copying


def _sequence_problem(i: int, seq: object) -> tuple[type[AuditProblem], str]:
    what = "deleted" if isinstance(seq, int) and seq > i else "inserted or reordered"
    return (AuditSequenceBroken, f"entry {i} carries sequence number {seq}: entries {what} "
                                 f"at position {i}")


def _scan_range(office: str, start: int, end: int) -> Scan:
    """Check, hash and tree leaves [start, end) of ``_LINES``."""
    sha = sha256
    fullmatch = CANONICAL_LEAF.fullmatch
    hashes: list[bytes] = []
    types: list[str] = []
    times = array("Q")
    rows: list[str] = []
    problem: tuple[type[AuditProblem], str] | None = None
    for i in range(start, end):
        line = _LINES[i]
        hashes.append(sha(_PREFIX + line).digest())
        m = fullmatch(line.decode("latin-1"))
        if m is not None:  # canonical and valid: read the fields from the match
            g = m.groups()
            typ, t, seq, own = g[_G_TYPE], g[_G_T], g[_G_SEQ], g[_G_OFFICE]
            peers = g[_G_PEERS]
            fields = (typ, g[_G_PEER] or "", peers[2:-2].replace('","', ",") if peers else "",
                      g[_G_MID] or "", g[_G_ENV] or "", g[_G_REC] or "")
            seq_n: object = None if seq is None else int(seq)
        else:
            try:  # not the fast form: the reference decoder decides (and may still accept)
                obj = decode_leaf(line)
            except GatewayError:
                types.append(_BROKEN)
                times.append(0)
                if problem is None:
                    problem = (AuditEntryEdited, f"entry {i} is not a canonical leaf (edited)")
                continue
            get = obj.get
            typ, t, seq_n, own = obj["type"], get("t", 0), get("seq"), get("office")
            fields = (typ, get("peer", ""), ",".join(get("peers", ())),
                      get("message_id", ""), get("envelope_sha256", ""),
                      get("receipt_sha256", ""))
        types.append(typ)
        times.append(int(t or 0))
        if typ in MATCHED:
            rows.append("\t".join(fields))
        if problem is None:
            if seq_n != i:
                problem = _sequence_problem(i, seq_n)
            elif own != office:
                problem = (AuditEntryEdited, f"entry {i} belongs to another office")
    return Scan(grow_levels([b"".join(hashes)]), problem, Counter(types), times,
                "\n".join(rows))


def scan_leaves(lines: list[bytes], office: str) -> Scan:
    """``_scan_range`` over all lines, on every core for large logs."""
    global _LINES  # noqa: PLW0603 - handed to forked workers by inheritance
    n = len(lines)
    workers = os.cpu_count() or 1
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        workers = 1
    _LINES = lines
    try:
        if n < _PARALLEL_FROM or workers < 2:
            return _scan_range(office, 0, n)
        chunk = 1 << (n // (4 * workers)).bit_length()  # ≥ 4 tasks per core, 2^k leaves
        starts = range(0, n, chunk)
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            parts = list(pool.map(_scan_range, [office] * len(starts), starts,
                                  [min(s + chunk, n) for s in starts]))
    finally:
        _LINES = []
    depth = chunk.bit_length()  # levels 0 .. log2(chunk): built inside the chunks
    levels = [b"".join(p.levels[k] for p in parts if len(p.levels) > k) for k in range(depth)]
    times = array("Q")
    counts: Counter[str] = Counter()
    for p in parts:
        times.extend(p.times)
        counts.update(p.counts)
    return Scan(grow_levels(levels), next((p.problem for p in parts if p.problem), None),
                counts, times, "\n".join(p.rows for p in parts if p.rows))
