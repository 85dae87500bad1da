"""The offline audit verifier: a bundle (or both sides' bundles) in, a verdict out.

Invariants (docs/audit-log.md states them for auditors):

* Trust comes from the auditor, never from the bundle: the VN and CN roots are pinned by the
  caller (``--roots``, a gateway ``--home``, or published fingerprints); a bundle whose
  ``roots.json`` differs is refused, and its directory must verify under the pinned roots.
* The directory fixes each office's log origin (``<office>/audit/v1``) and country; the
  manifest and every checkpoint must use that origin.
* The export checkpoint covers every entry: an entry past the newest signed checkpoint is
  tampering (nobody signed for it), not a note.
* Witnessing policy: each log is cosigned by at least one witness of the *other* country, and
  every entry logged more than ``max_lag_ms`` before the export is covered by a cosigned
  checkpoint. Cosignatures are checked with the witness key valid at their own timestamp.
* Suite 2: an office (witness) that the directory says accepts suite 2 must add its
  ML-DSA-65 line to every checkpoint signed since that directory came into force, as the
  log itself records it (and to every cosignature timestamped since the directory's issue),
  else ``AUDIT_DOWNGRADE`` (``_pq_from_size``; ``notes.pq_cosignatures_from_ms``).
* Whatever was not given (the peer's bundle, the live peer, older directories) is named as
  *not checked*, never passed silently.

Each problem is an ``AuditProblem`` (gateway/protocol/errors.py) with a stable code; the
verdict's exit code is the worst class found: 1 tampered, 2 policy not met, 3 could not
check, 0 verified.

Reading one bundle's leaves fast (check, hash, tree, on every core) is ``audit.scan``; the
cross-checks between two bundles share the private ``_Bundle`` value; the text of the verdict
is in ``views.audit_report``, the live peer in ``cli.audit_peer``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gateway.audit.leaves import LEAF_PREFIX, decode_leaf
from gateway.audit.merkle import (
    ProofError,
    leaf_hash,
    levels_root,
    verify_consistency,
    verify_inclusion,
)
from gateway.audit.notes import (
    Checkpoint,
    Cosignature,
    cosignatures,
    log_origin,
    parse_checkpoint,
    split_note,
    verify_note,
)
from gateway.audit.scan import ENV, MID, PEER, PEERS, REC, TYPE, Scan, scan_leaves
from gateway.protocol.errors import (
    AuditBadCosignature,
    AuditBadDirectory,
    AuditBadSignature,
    AuditDowngrade,
    AuditEntryEdited,
    AuditFork,
    AuditNoRoots,
    AuditNotWitnessed,
    AuditOriginMismatch,
    AuditPeerInconsistent,
    AuditPeerUnavailable,
    AuditProblem,
    AuditReceiptMismatch,
    AuditRootsMismatch,
    AuditSplitView,
    AuditTruncated,
    AuditUnreadable,
    AuditUnsignedTail,
    AuditWitnessKeyRevoked,
    AuditWitnessStale,
    BadSignature,
    Downgrade,
    GatewayError,
    KeyExpired,
    KeyRevoked,
    Malformed,
)
from gateway.protocol.identity import SUITE_2, Directory, TrustRoots

__all__ = ["DEFAULT_MAX_LAG_MS", "FORMAT", "LivePeer", "Report",
           "roots_matching", "verify_bundles"]

FORMAT = "blo-audit-bundle/v1"  #: the manifest's format; ``node.bundle`` writes it
MAX_MEMBER = 4 * 1024 * 1024 * 1024
#: Default bound on unwitnessed entries: six witnessing intervals of the default
#: ``checkpoint_interval_s`` (10 s); ``--max-witness-lag`` or a gateway's --home changes it.
DEFAULT_MAX_LAG_MS = 6 * 10_000
#: A gateway's record of having cosigned its peer's checkpoint may wait this much longer
#: for its own witness (node/witness.py signs no checkpoint for such records alone).
BOOKKEEPING_WAIT_MS = 30 * 60 * 1000

NOT_CHECKED = {
    "peer_bundle": "the other side's bundle: a split view, or a truncation the operator "
                   "re-signed, shows only against it (give both bundles)",
    "live_peer": "the live gateway's current cosigned checkpoint (give --peer URL)",
    "directory_history": "earlier trust directories: keys are checked against the directory "
                         "in the bundle",
}


class LivePeer(Protocol):
    """The peer API of the gateway whose log is being checked (see ``HttpPeer`` in cli)."""

    def checkpoint(self, office: str) -> str: ...

    def consistency(self, office: str, old: int, new: int) -> list[bytes]: ...

    def inclusion(self, office: str, index: int, size: int) -> tuple[bytes, list[bytes]]: ...


@dataclass
class Report:
    """The verdict: per-log facts, the problems with their codes, what was not checked."""

    findings: list[AuditProblem] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    matching: dict[str, int] = field(default_factory=dict)
    not_checked: list[str] = field(default_factory=list)

    def add(self, cls: type[AuditProblem], message: str) -> None:
        self.findings.append(cls(message))

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problems(self) -> list[str]:
        return [f"{f.code}: {f.message}" for f in self.findings]

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    @property
    def exit_code(self) -> int:
        """0 verified, 1 tampered, 2 policy not met, 3 could not check (the worst wins;
        tampering is worse than anything else)."""
        classes = {f.exit_code for f in self.findings}
        for c in (1, 3, 2):
            if c in classes:
                return c
        return 0

    @property
    def verdict(self) -> str:
        return {0: "PASS", 1: "FAIL tampered", 2: "FAIL policy not met",
                3: "FAIL could not check"}[self.exit_code]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "verdict": self.verdict, "exit_code": self.exit_code,
                "findings": [{"code": f.code, "class": type(f).__mro__[1].__name__,
                              "meaning": (type(f).__doc__ or "").strip(),
                              "message": f.message} for f in self.findings],
                "problems": self.problems, "logs": self.logs, "matching": self.matching,
                "not_checked": [{"what": k, "why": NOT_CHECKED[k]} for k in self.not_checked]}


def roots_matching(bundle_roots: TrustRoots, fingerprints: list[str]) -> TrustRoots:
    """The bundle's roots, accepted only if their key fingerprints are the published ones."""
    from gateway.protocol.identity import fingerprint

    want = {"".join(f.split()).lower() for f in fingerprints}
    have = {"".join(fingerprint(r.public_key).split()) for r in bundle_roots.roots}
    if not want or have != want:
        raise AuditRootsMismatch("the bundle's root keys are not the published fingerprints")
    return bundle_roots


# --------------------------------------------------------------------------- reading


def _read(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r") as tar:
            for m in tar.getmembers():
                if not m.isfile() or m.size > MAX_MEMBER or "/" in m.name:
                    raise AuditUnreadable(f"{path}: unexpected member {m.name!r}")
                f = tar.extractfile(m)
                assert f is not None
                out[m.name] = f.read()
    except (tarfile.TarError, OSError) as e:
        raise AuditUnreadable(f"{path} is not an audit bundle: {e}") from e
    need = {"manifest.json", "leaves.jsonl", "checkpoints.json", "witnessed.json",
            "directory.bin", "roots.json"}
    if not need <= set(out):
        raise AuditUnreadable(f"{path} lacks {', '.join(sorted(need - set(out)))}")
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


# --------------------------------------------------------------------------- one log


@dataclass
class _Bundle:
    path: str
    office: str
    exported_at_ms: int
    size: int
    scan: Scan  # the leaves, read
    roots_at: dict[int, bytes]
    export: Checkpoint | None
    witnessed: list[dict[str, str]]
    directory: Directory
    #: checkpoints covering more entries than this must carry the ML-DSA-65 line (None:
    #: the office does not accept suite 2 in the bundle's directory); see ``_pq_from_size``
    pq_from_size: int | None = None

    def pq_required(self, size: int) -> bool:
        return self.pq_from_size is not None and size > self.pq_from_size


def _pq_from_size(raw: dict[str, bytes], directory: Directory, office: str) -> int | None:
    """The suite-2 rule for checkpoints (docs/audit-log.md, Suite 2): if the bundle's
    directory says ``office`` accepts suite 2, every checkpoint signed while that directory
    was in force must carry both signatures. The log records when it came into force: the
    first entry naming its SHA-256 (``gateway.started``, ``directory.accepted``); a
    checkpoint covering that entry was signed after it. Returns that entry's index (a
    checkpoint of a larger size needs both lines), 0 if the log never names the directory
    (then every checkpoint does), None if the office is on suite 1."""
    if SUITE_2 not in directory.suites(office):
        return None
    needle = b'"directory_sha256":"' + hashlib.sha256(raw["directory.bin"]).hexdigest().encode()
    leaves = raw["leaves.jsonl"]
    at = leaves.find(needle)
    return 0 if at < 0 else leaves.count(b"\n", 0, at)


def _iso(ms: int) -> str:
    from gateway.protocol.localtime import iso_time

    return iso_time(ms)


def _waits(line: bytes) -> int:
    """How much longer than the lag an entry may wait for its witness: a record of our own
    witnessing (``checkpoint.cosigned``) alone does not call for a new checkpoint for up to
    ``BOOKKEEPING_WAIT_MS`` (the gateway's ``witness.BOOKKEEPING_REFRESH_MS``)."""
    if b'"type":"checkpoint.cosigned"' not in line:
        return 0
    try:
        return BOOKKEEPING_WAIT_MS if decode_leaf(line)["type"] == "checkpoint.cosigned" else 0
    except GatewayError:
        return 0


def _load(path: Path, roots: TrustRoots, max_lag_ms: int, report: Report, *,
          events: bool = True) -> _Bundle | None:
    add = report.add
    raw = _read(path)
    try:
        manifest = json.loads(raw["manifest.json"])
        office, origin = str(manifest["office"]), str(manifest["origin"])
        exported_at = int(manifest["exported_at_ms"])
        declared_size = int(manifest["size"])
        checkpoints: list[str] = json.loads(raw["checkpoints.json"])
        witnessed: list[dict[str, str]] = json.loads(raw["witnessed.json"])
    except (ValueError, KeyError, TypeError) as e:
        raise AuditUnreadable(f"{path}: manifest or index is not valid JSON") from e
    if manifest.get("format") != FORMAT:
        raise AuditUnreadable(f"{path}: not a {FORMAT} bundle")
    # 1. Trust: the auditor's roots, and a directory they signed.
    try:
        theirs = TrustRoots.from_json(raw["roots.json"].decode("utf-8", "replace"))
        same = ({(r.key_id, r.country, r.public_key, r.pq_public_key) for r in theirs.roots}
                == {(r.key_id, r.country, r.public_key, r.pq_public_key) for r in roots.roots})
    except GatewayError:
        same = False
    if not same:
        add(AuditRootsMismatch, f"{path}: the bundle's trust roots are not the pinned ones; "
                                "nothing in it can be trusted")
        return None
    try:
        directory = Directory.verify(raw["directory.bin"], roots, now_ms=exported_at)
    except GatewayError as e:
        add(AuditBadDirectory, f"{path}: {e.code} {e.message}")
        return None
    # 2. The origin the directory fixes for this office.
    if office not in directory.offices:
        add(AuditOriginMismatch, f"{path}: office {office!r} is not in the trust directory")
        return None
    want_origin = log_origin(office)
    if origin != want_origin:
        add(AuditOriginMismatch, f"{path}: the manifest names the log {origin!r}, but the "
                                 f"directory fixes {office}'s log as {want_origin!r}")
    mine = directory.offices[office]
    others = [o.office_id for o in directory.offices.values() if o.office_id != office]
    foreign = {o.office_id for o in directory.offices.values() if o.country != mine.country}
    # 3. Leaves: canonical, in sequence, one office; the tree over them.
    leaves = raw["leaves.jsonl"]
    parsed: list[Checkpoint | None] = []
    sizes: dict[int, list[int]] = {}
    for k, note in enumerate(checkpoints):
        try:
            body, _ = split_note(note)
            cp = parse_checkpoint(body)
        except GatewayError as e:
            add(AuditBadSignature, f"{path}: checkpoint #{k} is malformed ({e.message})")
            parsed.append(None)
            continue
        if cp.origin != want_origin:
            add(AuditOriginMismatch, f"{path}: checkpoint #{k} is for the log {cp.origin!r}, "
                                     f"not {want_origin!r}")
            parsed.append(None)
            continue
        parsed.append(cp)
        sizes.setdefault(cp.size, []).append(k)
    if _TTY:
        _progress(0, leaves.count(b"\n"), "verifying")
    scan = scan_leaves(leaves, office, events=events)
    n = scan.size
    first = scan.problem
    roots_at = {size: levels_root(scan.levels, size) for size in [0, *sizes] if size <= n}
    _progress(n, n, "verifying")
    if first:
        add(first[0], f"{path}: {first[1]}")
    for size, ks in sorted(sizes.items()):
        distinct = {c.root for k in ks if (c := parsed[k]) is not None}
        if len(distinct) > 1:
            add(AuditFork, f"{path}: {len(distinct)} different roots signed for size {size}")
    # 4. Checkpoints: signature, size, root; then the cosignatures at their own time.
    signed: list[Checkpoint] = []
    witnessed_by: list[tuple[int, Cosignature]] = []
    pq_from = _pq_from_size(raw, directory, office)
    for k, (note, maybe) in enumerate(zip(checkpoints, parsed, strict=True)):
        if maybe is None:
            continue
        cp = maybe
        try:
            verify_note(note, directory, office, at_ms=exported_at,
                        require_pq=pq_from is not None and cp.size > pq_from)
        except Downgrade as e:
            add(AuditDowngrade, f"{path}: checkpoint #{k} (size {cp.size}): {e.message}")
            continue
        except GatewayError as e:
            add(AuditBadSignature, f"{path}: checkpoint #{k} (size {cp.size}): {e.code} "
                                   f"{e.message}")
            continue
        if cp.size > n:
            add(AuditTruncated, f"{path}: checkpoint #{k} was signed for {cp.size} entries "
                                f"but the bundle holds {n}")
            continue
        if roots_at.get(cp.size) != cp.root:
            add(AuditEntryEdited, f"{path}: the first {cp.size} entries differ from what "
                                  f"checkpoint #{k} signed")
            continue
        signed.append(cp)
        for peer in others:
            try:
                witnessed_by.extend((cp.size, cs) for cs in cosignatures(note, directory, peer))
            except (KeyRevoked, KeyExpired) as e:
                add(AuditWitnessKeyRevoked, f"{path}: checkpoint #{k}: {e.message}")
            except Downgrade as e:
                add(AuditDowngrade, f"{path}: checkpoint #{k}: cosignature of {peer}: "
                                    f"{e.message}")
            except (BadSignature, Malformed) as e:
                add(AuditBadCosignature, f"{path}: checkpoint #{k}: cosignature of {peer}: "
                                         f"{e.message}")
    # 5. The export checkpoint covers every entry.
    export = max(signed, key=lambda c: c.size, default=None)
    covered = export.size if export else 0
    if covered < n:
        add(AuditUnsignedTail, f"{path}: entries {covered}..{n - 1} come after the newest "
                               f"signed checkpoint (size {covered}): nobody signed for them")
    if declared_size != n:
        add(AuditTruncated if declared_size > n else AuditUnsignedTail,
            f"{path}: the manifest declares {declared_size} entries, the bundle holds {n}")
    # 6. Witnessing policy: the other country, recently enough.
    by_foreign = [(s, c) for s, c in witnessed_by if c.office_id in foreign]
    witnessed_size = max((s for s, _ in by_foreign), default=0)
    if not by_foreign:
        add(AuditNotWitnessed, f"{path}: no witness of the other country cosigned "
                               f"{office}'s log")
    else:
        cutoff = exported_at - max_lag_ms
        times = scan.times
        lines: list[bytes] = []  # the leaves split into lines only if an entry is past the bound

        def waits(i: int) -> int:
            if not lines:
                lines.extend(leaves.split(b"\n"))
            return _waits(lines[i])

        # the first entry older than the bound that no witness covered (a record of our own
        # witnessing may wait longer: ``_waits``, read only for entries past the bound)
        late = next((i for i in range(witnessed_size, n)
                     if 0 < times[i] < cutoff and times[i] < cutoff - waits(i)), None)
        if late is not None:
            add(AuditWitnessStale, f"{path}: entries from {late} on were logged more than "
                                   f"{max_lag_ms // 1000} s before the export but no witness "
                                   f"of the other country cosigned past size "
                                   f"{witnessed_size}")
    newest = {c.office_id: c for s, c in sorted(by_foreign, key=lambda x: (x[0], x[1].timestamp))
              if s == witnessed_size}
    counts = scan.counts
    report.logs.append({
        "bundle": path.name, "office": office, "origin": want_origin, "entries": n,
        "checkpoints": len(checkpoints), "export_size": covered,
        "exported_at": _iso(exported_at),
        "cosignatures": len(witnessed_by),
        "witnessed_to": witnessed_size,
        "witnessed_by": [{"office": c.office_id, "key_id": c.key_id,
                          "at": _iso(c.timestamp * 1000)} for c in newest.values()],
        "reads": counts.get("message.opened", 0),
        "directory_serial": directory.serial,
        "events": dict(sorted(counts.items()))})
    return _Bundle(str(path), office, exported_at, n, scan, roots_at, export,
                   witnessed, directory, pq_from)


# --------------------------------------------------------------------------- two logs


def _cross(a: _Bundle, b: _Bundle, report: Report) -> None:
    """What ``a`` witnessed of ``b``'s log must match ``b``'s leaves."""
    add = report.add
    wanted: dict[int, list[tuple[int, bytes]]] = {}
    origin = log_origin(b.office)  # from the directory, not from b's manifest
    for k, w in enumerate(a.witnessed):
        if not isinstance(w, dict) or w.get("origin") != origin:
            continue
        try:
            size = parse_checkpoint(split_note(w["note"])[0]).size
            cp = verify_note(w["note"], b.directory, b.office, at_ms=b.exported_at_ms,
                             require_pq=b.pq_required(size))
            if not cosignatures(w["note"], a.directory, a.office):
                add(AuditBadCosignature, f"{a.path}: witnessed #{k} lacks {a.office}'s "
                                         "cosignature")
        except Downgrade as e:
            add(AuditDowngrade, f"{a.path}: witnessed checkpoint #{k} of {b.office}: "
                                f"{e.message}")
            continue
        except GatewayError as e:
            add(AuditBadCosignature, f"{a.path}: witnessed checkpoint #{k} of {b.office}: "
                                     f"{e.message}")
            continue
        wanted.setdefault(cp.size, []).append((k, cp.root))
    roots = {size: levels_root(b.scan.levels, size) for size in wanted if size <= b.size}
    for size, items in sorted(wanted.items()):
        for k, root in items:
            if size > b.size:
                add(AuditTruncated, f"{b.path}: {a.office} cosigned {b.office}'s log at size "
                                    f"{size}, but the bundle holds {b.size} entries")
            elif roots.get(size) != root:
                add(AuditSplitView, f"{a.office} cosigned a different log of {b.office} at "
                                    f"size {size} (witnessed #{k})")


def _match(a: _Bundle, b: _Bundle, report: Report) -> None:
    """Every send from ``a`` to ``b`` against ``b``'s receipts."""
    a_events = a.scan.events()
    received = {(x[MID], x[ENV]): x for x in b.scan.events()
                if x[TYPE] == "envelope.received" and x[PEER] == a.office}
    created = {(x[MID], x[ENV]) for x in a_events
               if x[TYPE] == "message.created" and b.office in x[PEERS]}
    done = set()
    key = f"{a.office}->{b.office}"
    counts = report.matching
    for x in a_events:
        if x[PEER] != b.office:
            continue
        k = (x[MID], x[ENV])
        if x[TYPE] == "message.delivered":
            r = received.get(k)
            if r is None or r[REC] != x[REC]:
                report.add(AuditReceiptMismatch, f"{key}: message {k[0]} is logged as "
                           f"delivered with a receipt that {b.office}'s log does not hold")
            else:
                counts[f"{key} matched"] = counts.get(f"{key} matched", 0) + 1
            done.add(k)
        elif x[TYPE] == "message.dead":
            done.add(k)
            counts[f"{key} rejected"] = counts.get(f"{key} rejected", 0) + 1
    counts[f"{key} pending"] = len(created - done - set(received))
    for k in received:
        if k not in created:
            report.add(AuditReceiptMismatch, f"{key}: {b.office} logged receiving {k[0]} "
                                             f"which {a.office}'s log never created")


def _live(b: _Bundle, peer: LivePeer, report: Report) -> None:
    """The live gateway's latest checkpoint must extend the bundle's export checkpoint."""
    add = report.add
    try:
        note = peer.checkpoint(b.office)
    except GatewayError as e:
        add(AuditPeerUnavailable, f"{b.office}: {e.code} {e.message}")
        return
    try:
        latest = verify_note(note, b.directory, b.office, at_ms=b.exported_at_ms)
    except GatewayError as e:
        add(AuditPeerInconsistent, f"{b.office}'s live checkpoint does not verify: {e.message}")
        return
    foreign = [o for o in b.directory.offices.values()
               if o.country != b.directory.offices[b.office].country]
    live_cosigned = []
    for o in foreign:
        try:
            live_cosigned += cosignatures(note, b.directory, o.office_id)
        except GatewayError as e:
            add(AuditBadCosignature, f"{b.office}'s live checkpoint: {e.message}")
    old = b.export
    report.logs[-1 if len(report.logs) == 1 else 0].setdefault("live", {}).update(
        {"size": latest.size, "cosigned_by": sorted({c.office_id for c in live_cosigned})})
    if old is None or old.size == 0:
        return
    if latest.size < old.size:
        # The live checkpoint may lag the export; it must then be a prefix of the bundle.
        if levels_root(b.scan.levels, latest.size) != latest.root:
            add(AuditPeerInconsistent, f"the live log of {b.office} at size {latest.size} is "
                                       "not the bundle's first entries: a split view")
        return
    try:
        proof = [] if latest.size == old.size else peer.consistency(b.office, old.size,
                                                                      latest.size)
        verify_consistency(old.size, latest.size, old.root, latest.root, proof)
    except ProofError as e:
        add(AuditPeerInconsistent, f"the live log of {b.office} (size {latest.size}) does not "
                                   f"extend the bundle's export checkpoint (size {old.size}): "
                                   f"{e.message}")
        return
    except GatewayError as e:
        add(AuditPeerUnavailable, f"{b.office}: {e.code} {e.message}")
        return
    if latest.size == old.size:
        return
    # The live log is longer: its next entry, proven in the cosigned tree, must postdate the
    # export, or the bundle was cut short (and re-signed) before it.
    try:
        leaf, path = peer.inclusion(b.office, old.size, latest.size)
        verify_inclusion(leaf_hash(LEAF_PREFIX + leaf), old.size, latest.size, path,
                         latest.root)
        t = int(decode_leaf(leaf).get("t", 0))
    except ProofError as e:
        add(AuditPeerInconsistent, f"entry {old.size} of {b.office}'s live log: {e.message}")
        return
    except GatewayError as e:
        add(AuditPeerUnavailable, f"{b.office}: {e.code} {e.message}")
        return
    if t <= b.exported_at_ms:
        add(AuditTruncated, f"the live log of {b.office} held entry {old.size} (logged "
                            f"{_iso(t)}) before the bundle was exported ({_iso(b.exported_at_ms)})"
                            f", but the bundle stops at {old.size} entries")


def verify_bundles(paths: list[Path], roots: TrustRoots | None = None, *,
                   max_lag_ms: int = DEFAULT_MAX_LAG_MS, peer: LivePeer | None = None,
                   roots_for: Callable[[TrustRoots], TrustRoots] | None = None) -> Report:
    """Verify one bundle, or both sides'; ``roots`` are the auditor's pinned trust roots
    (or ``roots_for`` accepts a bundle's roots against published fingerprints). ``peer``
    checks the first bundle against its live gateway."""
    report = Report()
    if len(paths) < 2:
        report.not_checked.append("peer_bundle")
    if peer is None:
        report.not_checked.append("live_peer")
    report.not_checked.append("directory_history")
    # Millions of small dicts and no cycles: the cyclic GC would only rescan them.
    was_enabled = gc.isenabled()
    gc.disable()
    bundles: list[_Bundle | None] = []
    try:
        for path in paths:
            try:
                pinned = roots
                if pinned is None and roots_for is not None:
                    raw = _read(path)
                    try:
                        theirs = TrustRoots.from_json(raw["roots.json"].decode())
                    except GatewayError as e:
                        raise AuditRootsMismatch(f"{path}: {e.message}") from e
                    pinned = roots_for(theirs)
                if pinned is None:
                    raise AuditNoRoots("no trust roots given: pin them with --roots FILE, "
                                       "--home DIR or --root-fingerprint")
                # the events that sends and receipts are matched on: only between two bundles
                bundles.append(_load(path, pinned, max_lag_ms, report,
                                     events=len(paths) == 2))
            except AuditProblem as e:
                report.findings.append(e)
                bundles.append(None)
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
    if peer is not None and bundles and bundles[0] is not None:
        _live(bundles[0], peer, report)
    return report
