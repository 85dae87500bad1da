"""Audit bundles: export a gateway's log for offline verification, and verify one or two.

A bundle is a tar file (format ``blo-audit-bundle/v1``, docs/audit-bundle.md):

    manifest.json     format, office, origin, size, export time
    leaves.jsonl      one canonical leaf per line (leaf bytes = "blo-audit/v1\\n" + line)
    checkpoints.json  every signed checkpoint of this log, with the peers' cosignatures,
                      plus one signed at export time for the full size
    witnessed.json    every checkpoint of a peer's log that this gateway cosigned
    directory.bin     the co-signed trust directory;  roots.json  the VN and CN roots

``verify`` recomputes the tree from the first leaf, checks every signature and cosignature,
that every checkpoint's root matches the leaves, and, given both sides' bundles, that each
side's witnessed checkpoints match the other's leaves and that every send is matched by a
receipt (or a rejection, or is still pending). It needs no gateway and no private key.
"""

from __future__ import annotations

import gc
import io
import json
import multiprocessing
import os
import sys
import tarfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.audit import LEAF_PREFIX, decode_leaf
from gateway.config import load_config
from gateway.errors import GatewayError, Malformed
from gateway.identity import Directory, Keyring, TrustRoots
from gateway.merkle import CompactRange, leaf_hash
from gateway.notes import (
    Checkpoint,
    log_origin,
    make_checkpoint,
    parse_checkpoint,
    split_note,
    verify_cosignatures,
    verify_note,
)
from gateway.store import Store, make_engine

__all__ = ["FORMAT", "Report", "export_bundle", "render_report", "verify_bundles"]

FORMAT = "blo-audit-bundle/v1"
MAX_MEMBER = 4 * 1024 * 1024 * 1024


def export_bundle(home: Path, out: Path) -> dict[str, Any]:
    """Write the bundle of the gateway in ``home`` (it may be running)."""
    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    store = Store(engine, cfg.office_id)
    data = store.export_audit()
    size, root = store.audit_head()
    engine.dispose()
    now = int(time.time() * 1000)
    keyring = Keyring.load(cfg.path(cfg.keyring))
    checkpoints = [*data["checkpoints"], make_checkpoint(keyring, size, root, now)]
    manifest = {"format": FORMAT, "office": cfg.office_id, "origin": log_origin(cfg.office_id),
                "size": size, "exported_at_ms": now}
    members = {
        "manifest.json": json.dumps(manifest, indent=2).encode(),
        "leaves.jsonl": b"".join(line + b"\n" for line in data["leaves"]),
        "checkpoints.json": json.dumps(checkpoints, ensure_ascii=False, indent=1).encode(),
        "witnessed.json": json.dumps(data["witnessed"], ensure_ascii=False, indent=1).encode(),
        "directory.bin": cfg.path(cfg.directory).read_bytes(),
        "roots.json": cfg.path(cfg.roots).read_bytes(),
    }
    with tarfile.open(out, "w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(blob), now // 1000, 0o644
            tar.addfile(info, io.BytesIO(blob))
    return manifest


@dataclass
class _Bundle:
    path: str
    office: str
    origin: str
    exported_at_ms: int
    leaves: list[_Ev]
    hashes: bytes
    roots_at: dict[int, bytes]
    checkpoints: list[str]
    witnessed: list[dict[str, str]]
    directory: Directory


@dataclass
class Report:
    """The outcome; ``problems`` is empty when everything adds up."""

    problems: list[str] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    matching: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "logs": self.logs,
                "matching": self.matching}


def _read(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r") as tar:
            for m in tar.getmembers():
                if not m.isfile() or m.size > MAX_MEMBER or "/" in m.name:
                    raise Malformed(f"{path}: unexpected member {m.name!r}")
                f = tar.extractfile(m)
                assert f is not None
                out[m.name] = f.read()
    except tarfile.TarError as e:
        raise Malformed(f"{path} is not an audit bundle: {e}") from e
    need = {"manifest.json", "leaves.jsonl", "checkpoints.json", "witnessed.json",
            "directory.bin", "roots.json"}
    if not need <= set(out):
        raise Malformed(f"{path} lacks {', '.join(sorted(need - set(out)))}")
    return out


_TTY = sys.stderr.isatty()


def _progress(done: int, total: int, label: str) -> None:
    if _TTY and total >= 50_000 and (done % 50_000 == 0 or done == total):
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done}/{total}")
        if done == total:
            sys.stderr.write("\n")


_LINES: list[bytes] = []  # shared with forked workers without copying


# What the cross-checks need of one leaf, as a plain tuple (they pickle fast between
# processes): (type, peer, peers, message_id, envelope_sha256, receipt_sha256).
_Ev = tuple[str, str, tuple[str, ...], str, str, str]
TYPE, PEER, PEERS, MID, ENV, REC = range(6)
_BROKEN: _Ev = ("?", "", (), "", "", "")


def _decode_range(office: str, start: int, end: int) -> tuple[bytes, list[_Ev], str | None]:
    """Check leaves [start, end): canonical, allowed fields, sequence, office. Returns their
    leaf hashes, the fields the cross-checks need, and the first problem."""
    hashes = bytearray()
    kept: list[_Ev] = []
    problem = None
    for i in range(start, end):
        line = _LINES[i]
        hashes += leaf_hash(LEAF_PREFIX + line)
        try:
            obj = decode_leaf(line)
        except GatewayError:
            kept.append(_BROKEN)
            if problem is None:
                problem = f"entry {i} is not a canonical leaf (edited)"
            continue
        g = obj.get
        kept.append((obj["type"], g("peer", ""), tuple(g("peers", ())), g("message_id", ""),
                     g("envelope_sha256", ""), g("receipt_sha256", "")))
        if problem is None:
            seq = obj.get("seq")
            if seq != i:
                what = "deleted" if isinstance(seq, int) and seq > i else "inserted or reordered"
                problem = (f"entry {i} carries sequence number {seq}: entries {what} at "
                           f"position {i}")
            elif obj.get("office") != office:
                problem = f"entry {i} belongs to another office"
    return bytes(hashes), kept, problem


def _decode_all(lines: list[bytes], office: str) -> tuple[bytes, list[_Ev], str | None]:
    """``_decode_range`` over all lines, on every core for large logs (fork start method)."""
    global _LINES  # noqa: PLW0603 - handed to forked workers by inheritance
    _LINES = lines
    n = len(lines)
    workers = os.cpu_count() or 1
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        workers = 1
    if n < 200_000 or workers < 2:
        return _decode_range(office, 0, n)
    bounds = [n * k // workers for k in range(workers + 1)]
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        parts = list(pool.map(_decode_range, [office] * workers, bounds[:-1], bounds[1:]))
    _LINES = []
    hashes = b"".join(p[0] for p in parts)
    kept = [x for p in parts for x in p[1]]
    problem = next((p[2] for p in parts if p[2]), None)
    return hashes, kept, problem


def _load(path: Path, report: Report) -> _Bundle | None:
    p = report.problems
    raw = _read(path)
    manifest = json.loads(raw["manifest.json"])
    if manifest.get("format") != FORMAT:
        raise Malformed(f"{path}: not a {FORMAT} bundle")
    office, origin = manifest["office"], manifest["origin"]
    roots = TrustRoots.from_json(raw["roots.json"].decode())
    directory = Directory.verify(raw["directory.bin"], roots, now_ms=manifest["exported_at_ms"])
    checkpoints: list[str] = json.loads(raw["checkpoints.json"])
    sizes: dict[int, list[int]] = {}
    parsed: list[Checkpoint | None] = []
    for k, note in enumerate(checkpoints):
        try:
            body, _ = split_note(note)
            one = parse_checkpoint(body)
            parsed.append(one)
            sizes.setdefault(one.size, []).append(k)
        except GatewayError as e:
            p.append(f"{path}: checkpoint #{k} is malformed ({e.message})")
            parsed.append(None)
    lines = raw["leaves.jsonl"].split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    edge = CompactRange()
    roots_at: dict[int, bytes] = {}
    hashes, leaves, first_seq_problem = _decode_all(lines, office)
    if first_seq_problem:
        first_seq_problem = f"{path}: {first_seq_problem}"
    for i in range(len(lines)):
        edge.append(hashes[32 * i:32 * i + 32])
        if edge.size in sizes:
            roots_at[edge.size] = edge.root()
        if i % 50_000 == 0:
            _progress(i, len(lines), "verifying")
    _progress(len(lines), len(lines), "verifying")
    if 0 in sizes:
        roots_at[0] = CompactRange().root()
    if first_seq_problem:
        p.append(first_seq_problem)
    n = len(lines)
    for size, ks in sizes.items():
        distinct = {c.root for k in ks if (c := parsed[k]) is not None}
        if len(distinct) > 1:
            p.append(f"{path}: forked checkpoints: {len(distinct)} different roots signed "
                     f"for size {size}")
    peers = [o for o in directory.offices if o != office]
    cosigned = 0
    for k, (note, maybe) in enumerate(zip(checkpoints, parsed, strict=True)):
        if maybe is None:
            continue
        cp = maybe
        try:
            verify_note(note, directory, office, at_ms=manifest["exported_at_ms"])
        except GatewayError as e:
            p.append(f"{path}: checkpoint #{k} (size {cp.size}): {e.code} {e.message}")
            continue
        for peer in peers:
            try:
                if verify_cosignatures(note, directory, peer,
                                       at_ms=manifest["exported_at_ms"]):
                    cosigned += 1
            except GatewayError as e:
                p.append(f"{path}: checkpoint #{k}: cosignature of {peer}: {e.message}")
        if cp.size > n:
            p.append(f"{path}: truncated: checkpoint #{k} was signed for {cp.size} entries "
                     f"but the bundle holds {n}")
        elif roots_at.get(cp.size) != cp.root:
            p.append(f"{path}: the first {cp.size} entries differ from what checkpoint #{k} "
                     "signed (an entry was edited, deleted, inserted or reordered)")
    counts = Counter(leaf[TYPE] for leaf in leaves)
    report.logs.append({"bundle": path.name, "office": office, "entries": n,
                        "checkpoints": len(checkpoints), "cosignatures": cosigned,
                        "events": dict(sorted(counts.items()))})
    return _Bundle(str(path), office, origin, manifest["exported_at_ms"], leaves, hashes,
                   roots_at,
                   checkpoints, json.loads(raw["witnessed.json"]), directory)


def _cross(a: _Bundle, b: _Bundle, report: Report) -> None:
    """What ``a`` witnessed of ``b``'s log must match ``b``'s leaves."""
    p = report.problems
    edge = CompactRange()
    wanted: dict[int, list[tuple[int, bytes]]] = {}
    for k, w in enumerate(a.witnessed):
        if w["origin"] != b.origin:
            continue
        try:
            cp = verify_note(w["note"], b.directory, b.office, at_ms=b.exported_at_ms)
            if not verify_cosignatures(w["note"], a.directory, a.office,
                                       at_ms=a.exported_at_ms):
                p.append(f"{a.path}: witnessed #{k} lacks {a.office}'s cosignature")
        except GatewayError as e:
            p.append(f"{a.path}: witnessed checkpoint #{k} of {b.office}: {e.message}")
            continue
        wanted.setdefault(cp.size, []).append((k, cp.root))
    roots = {}
    for i in range(len(b.leaves)):
        edge.append(b.hashes[32 * i:32 * i + 32])
        if edge.size in wanted:
            roots[edge.size] = edge.root()
    for size, items in sorted(wanted.items()):
        for k, root in items:
            if size > len(b.leaves):
                p.append(f"{b.path}: truncated: {a.office} cosigned {b.office}'s log at size "
                         f"{size}, but the bundle holds {len(b.leaves)} entries")
            elif roots.get(size) != root:
                p.append(f"split view: {a.office} cosigned a different log of {b.office} at "
                         f"size {size} (witnessed #{k})")


def _match(a: _Bundle, b: _Bundle, report: Report) -> None:
    """Every send from ``a`` to ``b`` against ``b``'s receipts."""
    p = report.problems
    received = {(x[MID], x[ENV]): x for x in b.leaves
                if x[TYPE] == "envelope.received" and x[PEER] == a.office}
    created = {(x[MID], x[ENV]) for x in a.leaves
               if x[TYPE] == "message.created" and b.office in x[PEERS]}
    done = set()
    key = f"{a.office}->{b.office}"
    counts = report.matching
    for x in a.leaves:
        if x[PEER] != b.office:
            continue
        k = (x[MID], x[ENV])
        if x[TYPE] == "message.delivered":
            r = received.get(k)
            if r is None or r[REC] != x[REC]:
                p.append(f"{key}: message {k[0]} is logged as delivered with a receipt that "
                         f"{b.office}'s log does not hold")
            else:
                counts[f"{key} matched"] = counts.get(f"{key} matched", 0) + 1
            done.add(k)
        elif x[TYPE] == "message.dead":
            done.add(k)
            counts[f"{key} rejected"] = counts.get(f"{key} rejected", 0) + 1
    counts[f"{key} pending"] = len(created - done - set(received))
    for k in received:
        if k not in created:
            p.append(f"{key}: {b.office} logged receiving {k[0]} which {a.office}'s log "
                     "never created")


def render_report(report: Report, lang: str) -> str:
    """The report as text in vi, zh or both, labelled from the glossary."""
    from gateway.audit import EVENT_TYPES
    from gateway.glossary import term
    from gateway.render import Row, format_rows

    def lab(key: str) -> tuple[str, str]:
        t = term(key)
        return t.vi, t.zh

    rows: list[Row] = []
    for log in report.logs:
        rows.append(Row(0, log["office"], log["office"], log["bundle"], log["bundle"]))
        for key, value in (("audit.leaves", log["entries"]),
                           ("audit.checkpoints", log["checkpoints"]),
                           ("audit.cosigned_by_peer", log["cosignatures"])):
            rows.append(Row(1, *lab(key), str(value), str(value)))
        for etype, n in log["events"].items():
            t = EVENT_TYPES.get(etype)
            vi, zh = lab(t) if t else (etype, etype)
            rows.append(Row(2, vi, zh, str(n), str(n)))
    for key, n in report.matching.items():
        route, _, what = key.rpartition(" ")
        label = {"matched": "audit.matched", "pending": "audit.unmatched"}.get(what)
        vi, zh = lab(label) if label else (what, what)
        rows.append(Row(0, f"{route}: {vi}", f"{route}：{zh}", str(n), str(n)))
    verdict = lab("audit.result_ok" if report.ok else "audit.result_bad")
    rows.append(Row(0, *verdict))
    rows.extend(Row(1, p, p) for p in report.problems)
    return format_rows(rows, lang, title=lab("audit.report_title"))


def verify_bundles(paths: list[Path]) -> Report:
    report = Report()
    # Millions of small dicts and no cycles: the cyclic GC would only rescan them.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        bundles = [_load(path, report) for path in paths]
    finally:
        if was_enabled:
            gc.enable()
    if len(bundles) == 2 and all(bundles):
        a, b = bundles
        assert a is not None
        assert b is not None
        _cross(a, b, report)
        _cross(b, a, report)
        _match(a, b, report)
        _match(b, a, report)
    return report
