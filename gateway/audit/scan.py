"""Reading one log's leaves at speed: check each leaf, hash it, build the tree's levels.

Offline verification reads millions of leaves; this module is its hot loop, kept apart from
the verdict logic in ``verify``. Invariants:

* A leaf is accepted only if ``leaves.decode_leaf`` accepts it. The fast path reads a whole
  block of lines with one ``findall`` of the canonical-leaf pattern (``leaves.
  canonical_leaf_pattern``, built from the same field rules as ``decode_leaf``), which gives
  each valid line with the fields the verdict needs (``office``, ``seq``, ``t``, ``type``);
  it only ever concludes "no problem in this block": every line matched, every office ours,
  every sequence number its index, every time present. Any other block is read line by
  line (``leaves.CANONICAL_LEAF``, then ``decode_leaf`` for what that does not match), which
  finds and names the first problem.
* Every line is hashed, over the exact bytes logged (``LEAF_PREFIX ‖ line``).
* Large logs are cut into chunks of 2^k leaves, one per task on every core (fork start
  method: the file's bytes are inherited, not copied, and each task reads its own lines in
  place; the chunks' offsets are found by counting newlines, each task handed out as soon as
  its chunk is found); each chunk's tree levels join into the whole tree's because the
  chunks are aligned, and the levels above are built once they are joined.
* What the verdict needs of the leaves comes back compact (a worker's result is pickled): the
  count of each event type, each leaf's time as one array, and, when a second bundle is there
  to match them against, the few fields of the events that sends and receipts are matched
  on as one text, turned into tuples only then (``Scan.events``).
"""

from __future__ import annotations

import multiprocessing
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from hashlib import sha256
from itertools import compress
from typing import Final

from gateway.audit.leaves import (
    CANONICAL_LEAF,
    FIELD_ORDER,
    LEAF_PREFIX,
    canonical_leaf_pattern,
    decode_leaf,
)
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
_MATCHED_ASCII = frozenset(t.encode("ascii") for t in MATCHED)
_BROKEN = "?"  # the type counted for a leaf that is not a valid leaf


@dataclass
class Scan:
    """One log's leaves, read: the tree, the first problem, and what the verdict needs."""

    levels: list[bytes]  # merkle.grow_levels of the leaf hashes
    problem: tuple[type[AuditProblem], str] | None
    counts: Counter[str]  # leaves per event type
    times: array[int]  # each leaf's "t" (0 where absent or broken)
    rows: str | None  # the MATCHED events, one per line, fields joined by tabs (None: not kept)

    @property
    def size(self) -> int:
        """The number of leaves (lines)."""
        return len(self.levels[0]) // 32

    def events(self) -> list[Ev]:
        """The MATCHED events as tuples (built on demand: millions of small objects)."""
        if self.rows is None:
            raise ValueError("the leaves were scanned without their events")
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
#: Every whole line (``^`` ... newline) that is a valid canonical leaf, as the line, then the
#: text of its office, seq, t and type (empty where absent), read from the bytes: no field's
#: alphabet holds a newline or a byte over 127, so each match is one whole valid line.
#: With ``events``: also envelope_sha256, message_id, peer, peers and receipt_sha256 (the
#: groups after the line are in ``FIELD_ORDER``).
_FIELDS = ("office", "seq", "t", "type")
_EVENT_FIELDS = ("envelope_sha256", "message_id", "peer", "peers", "receipt_sha256")
_LEAVES, _LEAVES_EVENTS = (
    re.compile(("^(" + canonical_leaf_pattern(groups) + ")\n").encode("ascii"),
               re.MULTILINE).findall
    for groups in (_FIELDS, _FIELDS + _EVENT_FIELDS))

_BLOB = b""  # leaves.jsonl, shared with forked workers without copying


def _sequence_problem(i: int, seq: object) -> tuple[type[AuditProblem], str]:
    what = "deleted" if isinstance(seq, int) and seq > i else "inserted or reordered"
    return (AuditSequenceBroken, f"entry {i} carries sequence number {seq}: entries {what} "
                                 f"at position {i}")


def _row(g: tuple[str | None, ...]) -> str:
    """The ``rows`` line of a leaf from the groups of its ``CANONICAL_LEAF`` match."""
    peers = g[_G_PEERS]
    return "\t".join((g[_G_TYPE] or "", g[_G_PEER] or "",
                      peers[2:-2].replace('","', ",") if peers else "",
                      g[_G_MID] or "", g[_G_ENV] or "", g[_G_REC] or ""))


_Read = tuple[tuple[type[AuditProblem], str] | None, Counter[str], "array[int]", str | None]


def _read_block(blob: bytes, start: int, end: int, office: str, first: int,
                events: bool) -> tuple[Sequence[bytes], _Read] | None:
    """The fast path: the lines of ``blob[start:end]`` (each followed by a newline; ``start``
    at the start of a line) and their reading, if every line is a valid canonical leaf of
    ``office`` carrying its own sequence number and a time, else None."""
    found = (_LEAVES_EVENTS if events else _LEAVES)(blob, start, end)
    n = len(found)
    if not n:
        return ((), (None, Counter(), array("Q"), "" if events else None)) if start == end else None
    columns = list(zip(*found, strict=True))
    if events:
        lines, env, mid, offices, peer, peers, rec, seqs, times, types = columns
    else:
        lines, offices, seqs, times, types = columns
    # Each match is one whole line and its newline: they cover the block only if every line
    # is a valid leaf.
    if (sum(map(len, lines)) + n != end - start
            or offices.count(office.encode()) != n or b"" in times or b"" in seqs
            or list(map(int, seqs)) != list(range(first, first + n))):
        return None
    rows = None
    if events:  # as _row writes them: the only brackets and quotes are those of "peers"
        matched = compress(zip(types, peer, peers, mid, env, rec, strict=True),
                           map(_MATCHED_ASCII.__contains__, types))
        rows = (b"\n".join(map(b"\t".join, matched))
                .replace(b"[]", b"").replace(b'["', b"").replace(b'"]', b"")
                .replace(b'","', b",").decode("ascii"))
    counts = Counter({t.decode("ascii"): c for t, c in Counter(types).items()})
    return lines, (None, counts, array("Q", map(int, times)), rows)


def _read_lines(lines: Sequence[bytes], office: str, first: int, events: bool) -> _Read:
    """The slow path: each line on its own, the first problem named."""
    fullmatch = CANONICAL_LEAF.fullmatch
    types: list[str] = []
    times = array("Q")
    rows: list[str] = []
    problem: tuple[type[AuditProblem], str] | None = None
    for i, line in enumerate(lines, first):
        m = fullmatch(line.decode("latin-1"))
        if m is not None:  # canonical and valid: read the fields from the match
            g = m.groups()
            typ, t, seq, own = g[_G_TYPE], g[_G_T], g[_G_SEQ], g[_G_OFFICE]
            row = _row(g) if events and typ in MATCHED else ""
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
            row = "\t".join((typ, get("peer", ""), ",".join(get("peers", ())),
                             get("message_id", ""), get("envelope_sha256", ""),
                             get("receipt_sha256", "")))
        types.append(typ)
        times.append(int(t or 0))
        if events and typ in MATCHED:
            rows.append(row)
        if problem is None:
            if seq_n != i:
                problem = _sequence_problem(i, seq_n)
            elif own != office:
                problem = (AuditEntryEdited, f"entry {i} belongs to another office")
    return problem, Counter(types), times, "\n".join(rows) if events else None


def _scan_range(office: str, first: int, start: int, end: int, events: bool) -> Scan:
    """Check, hash and tree the lines in ``_BLOB[start:end]`` (whole lines, the first of them
    leaf ``first``; a last line without its newline is a line)."""
    blob = _BLOB
    if start < end and not blob.endswith(b"\n", start, end):  # the file's last line, unended
        blob, start, end = blob[start:end] + b"\n", 0, end - start + 1
    fast = _read_block(blob, start, end, office, first, events)
    if fast is None:
        # what follows the last newline: nothing
        lines: Sequence[bytes] = blob[start:end].split(b"\n")[:-1]
        read = _read_lines(lines, office, first, events)
    else:
        lines, read = fast
    sha = sha256
    levels = grow_levels([b"".join([sha(_PREFIX + line).digest() for line in lines])])
    return Scan(levels, *read)


def _skip_lines(blob: bytes, pos: int, k: int) -> int:
    """The offset just past the ``k``-th newline at or after ``pos`` (``len(blob)`` if there
    are fewer): newlines counted in blocks of 1 MiB, then of 4 KiB, then found one by one."""
    end = len(blob)
    for block in (1 << 20, 1 << 12):
        while True:
            stop = min(end, pos + block)
            c = blob.count(b"\n", pos, stop)
            if c >= k:
                break
            if stop == end:
                return end
            k -= c
            pos = stop
    for _ in range(k):
        pos = blob.index(b"\n", pos) + 1
    return pos


def _chunks(blob: bytes, chunk: int) -> Iterator[tuple[int, int]]:
    """The byte ranges of lines [0, chunk), [chunk, 2·chunk), ... (at least one range)."""
    start = 0
    while True:
        end = _skip_lines(blob, start, chunk)
        yield start, end
        if end >= len(blob):
            return
        start = end


def scan_leaves(blob: bytes, office: str, *, events: bool = True) -> Scan:
    """``_scan_range`` over the lines of ``blob`` (leaves.jsonl: a newline after each leaf,
    the last may lack it), on every core for large logs. ``events``: keep the rows that
    ``Scan.events`` reads (only matching against a second bundle needs them)."""
    global _BLOB  # noqa: PLW0603 - handed to forked workers by inheritance
    workers = os.cpu_count() or 1
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        workers = 1
    sample = blob[:1 << 16]
    estimate = len(blob) * (sample.count(b"\n") + 1) // max(1, len(sample))  # lines, about
    _BLOB = blob
    try:
        if estimate < _PARALLEL_FROM or workers < 2:
            return _scan_range(office, 0, 0, len(blob), events)
        # ≥ 8 tasks per core, 2^k leaves each: a core slowed by other work leaves less behind
        chunk = 1 << (estimate // (8 * workers)).bit_length()
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            # each task is handed out as soon as its chunk is found: the workers start on
            # the first while the next ones are counted
            futures = [pool.submit(_scan_range, office, k * chunk, start, end, events)
                       for k, (start, end) in enumerate(_chunks(blob, chunk))]
            parts = [f.result() for f in futures]
    finally:
        _BLOB = b""
    depth = chunk.bit_length()  # levels 0 .. log2(chunk): built inside the chunks
    levels = [b"".join(p.levels[k] for p in parts if len(p.levels) > k) for k in range(depth)]
    times = array("Q")
    counts: Counter[str] = Counter()
    for p in parts:
        times.extend(p.times)
        counts.update(p.counts)
    rows = "\n".join(r for p in parts if (r := p.rows)) if events else None
    return Scan(grow_levels(levels), next((p.problem for p in parts if p.problem), None),
                counts, times, rows)
