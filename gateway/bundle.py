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

import io
import json
import sys
import tarfile
import time
from collections import Counter
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
    leaves: list[dict[str, Any]]
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


def _progress(done: int, total: int, label: str) -> None:
    if total >= 50_000 and sys.stderr.isatty() and (done % 50_000 == 0 or done == total):
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done}/{total}")
        if done == total:
            sys.stderr.write("\n")


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
    leaves: list[dict[str, Any]] = []
    first_seq_problem = None
    for i, line in enumerate(lines):
        try:
            obj = decode_leaf(line)
        except GatewayError:
            obj = None
            if first_seq_problem is None:
                first_seq_problem = f"{path}: entry {i} is not a canonical leaf (edited)"
        if obj is not None and first_seq_problem is None:
            if obj.get("seq") != i:
                seq = obj.get("seq")
                what = ("deleted" if isinstance(seq, int) and seq > i else
                        "inserted or reordered")
                first_seq_problem = (f"{path}: entry {i} carries sequence number {seq}: "
                                     f"entries {what} at position {i}")
            elif obj.get("office") != office:
                first_seq_problem = f"{path}: entry {i} belongs to another office"
        leaves.append(obj or {})
        edge.append(leaf_hash(LEAF_PREFIX + line))
        if edge.size in sizes:
            roots_at[edge.size] = edge.root()
        _progress(i + 1, len(lines), "verifying")
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
    counts = Counter(leaf.get("type", "?") for leaf in leaves)
    report.logs.append({"bundle": str(path), "office": office, "entries": n,
                        "checkpoints": len(checkpoints), "cosignatures": cosigned,
                        "events": dict(sorted(counts.items()))})
    return _Bundle(str(path), office, origin, manifest["exported_at_ms"], leaves, roots_at,
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
    from gateway.audit import encode_leaf

    roots = {}
    for leaf in b.leaves:
        try:
            edge.append(leaf_hash(LEAF_PREFIX + encode_leaf(leaf)))
        except GatewayError:
            edge.append(b"\0" * 32)
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
    received = {(x.get("message_id"), x.get("envelope_sha256")): x for x in b.leaves
                if x.get("type") == "envelope.received" and x.get("peer") == a.office}
    rejected = {x.get("envelope_sha256") for x in b.leaves
                if x.get("type") == "envelope.rejected" and x.get("peer") == a.office}
    created = {(x.get("message_id"), x.get("envelope_sha256")) for x in a.leaves
               if x.get("type") == "message.created" and b.office in x.get("peers", [])}
    done = set()
    key = f"{a.office}->{b.office}"
    for x in a.leaves:
        if x.get("type") != "message.delivered" or x.get("peer") != b.office:
            continue
        k = (x.get("message_id"), x.get("envelope_sha256"))
        r = received.get(k)
        if r is None or r.get("receipt_sha256") != x.get("receipt_sha256"):
            p.append(f"{key}: message {k[0]} is logged as delivered with a receipt that "
                     f"{b.office}'s log does not hold")
        else:
            report.matching[f"{key} matched"] = report.matching.get(f"{key} matched", 0) + 1
        done.add(k)
    for x in a.leaves:
        if x.get("type") == "message.dead" and x.get("peer") == b.office:
            done.add((x.get("message_id"), x.get("envelope_sha256")))
            report.matching[f"{key} rejected"] = report.matching.get(f"{key} rejected", 0) + 1
    pending = created - done
    report.matching[f"{key} pending"] = len(pending - set(received))
    for k in received:
        if k not in created:
            p.append(f"{key}: {b.office} logged receiving {k[0]} which {a.office}'s log "
                     "never created")
    _ = rejected


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
    bundles = [_load(path, report) for path in paths]
    if len(bundles) == 2 and all(bundles):
        a, b = bundles
        assert a is not None
        assert b is not None
        _cross(a, b, report)
        _cross(b, a, report)
        _match(a, b, report)
        _match(b, a, report)
    return report
