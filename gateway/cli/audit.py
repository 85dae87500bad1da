"""``audit export`` and ``audit verify`` (offline, or beside a live peer)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.protocol.errors import ConfigError, GatewayError
from gateway.protocol.identity import Directory, Keyring, TrustRoots

if TYPE_CHECKING:
    pass
from gateway.cli._common import _print_json

__all__ = ["cmd_audit_export", "cmd_audit_verify", "cmd_witness_rebase"]


def cmd_audit_export(a: argparse.Namespace) -> int:
    from gateway.node.bundle import export_bundle

    m = export_bundle(Path(a.home), Path(a.out))
    print(f"audit bundle of {m['office']}: {m['size']} entries -> {a.out}")
    return 0


def cmd_witness_rebase(a: argparse.Namespace) -> int:
    from gateway.node.home import witness_rebase

    r = witness_rebase(Path(a.home), a.origin, a.at_most)
    print(f"witness rebased: {r['origin']} held at size {r['size']} again (it held "
          f"{r['held']}); its next checkpoint is cosigned if it extends that one. The "
          "refusal alert and every earlier cosignature stay in the log.")
    return 0


def cmd_audit_verify(a: argparse.Namespace) -> int:
    """Exit 0 verified, 1 tampered, 2 policy not met, 3 could not check."""
    from gateway.audit.verify import (
        DEFAULT_MAX_LAG_MS,
        LivePeer,
        roots_matching,
        verify_bundles,
    )
    from gateway.cli.audit_peer import HttpPeer
    from gateway.views.audit_report import render_report

    try:
        roots = TrustRoots.load(Path(a.roots)) if a.roots else None
        max_lag_ms = DEFAULT_MAX_LAG_MS
        peer: LivePeer | None = None
        if a.home:
            from gateway.node.config import load_config

            cfg = load_config(Path(a.home))
            roots = roots or TrustRoots.load(cfg.path(cfg.roots))
            max_lag_ms = int(6 * cfg.checkpoint_interval_s * 1000)
            if a.peer:
                directory = Directory.verify(cfg.path(cfg.directory).read_bytes(), roots,
                                             now_ms=int(time.time() * 1000))
                peer = HttpPeer(a.peer, Keyring.load(cfg.path(cfg.keyring)), directory)
        elif a.peer:
            raise ConfigError("--peer needs --home DIR: the peer API answers signed requests "
                              "only, so the command signs as that gateway's office")
        if a.max_witness_lag is not None:
            max_lag_ms = int(a.max_witness_lag * 1000)
    except (GatewayError, OSError) as e:
        code = e.code if isinstance(e, GatewayError) else "NOT_FOUND"
        print(f"error {code}: {e}", file=sys.stderr)
        print("FAIL (exit 3): could not check", file=sys.stderr)
        return 3
    fps = list(a.root_fingerprint or [])
    report = verify_bundles([Path(b) for b in a.bundle], roots, max_lag_ms=max_lag_ms,
                            peer=peer,
                            roots_for=(lambda r: roots_matching(r, fps)) if fps else None)
    if a.json:
        _print_json(report.to_dict())
    else:
        print(render_report(report, a.lang), end="")
    if not report.ok:
        print(f"{report.verdict}: {report.problems[0]}", file=sys.stderr)
    return report.exit_code
