"""``courier``: carry the peer link on removable media while the border link is down.

``courier export --to PEER --out FILE`` asks the running gateway for the next bundle for that
peer (``gateway.node.courier``) and writes it; ``courier import FILE [--return-out FILE]``
hands a bundle to the running gateway and, with ``--return-out``, writes the bundle that goes
back (the receipts for what was imported, our checkpoint and cosignature, and whatever is
queued for that peer). Both need an admin token (``--user``, default ``admin``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gateway.cli._common import _client, _print_json
from gateway.protocol.courier import MAX_BUNDLE_BYTES
from gateway.protocol.errors import PayloadTooLarge

__all__ = ["cmd_courier_export", "cmd_courier_import"]

#: A large bundle takes a while to store (1,000 envelopes: seconds); the API's default 30 s
#: is for single messages.
TIMEOUT_S = 900.0


def _write(path: Path, data: bytes) -> None:
    """Write the bundle whole or not at all (a half-written file on a stick would be refused
    on the other side anyway, but should not look like a bundle here)."""
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _export(a: argparse.Namespace, to: str, out: Path) -> dict[str, Any]:
    client = _client(a)
    client.timeout = TIMEOUT_S
    data, summary = client.courier_export(to, a.max_bytes)
    _write(out, data)
    return summary


def _said_export(s: dict[str, Any], out: Path) -> str:
    left = (f"; {s['left_queued']} more stay queued (over the size limit): export again"
            if s.get("left_queued") else "")
    return (f"bundle {s['sequence']} for {s['destination']}: {s['envelopes']} envelopes, "
            f"{s['receipts']} receipts, {s['checkpoints']} checkpoints, {s['bytes']} bytes "
            f"-> {out}{left}\nsha256 {s['bundle_sha256']}")


def cmd_courier_export(a: argparse.Namespace) -> int:
    out = Path(a.out)
    summary = _export(a, a.to, out)
    if a.json:
        _print_json(summary)
    else:
        print(_said_export(summary, out))
    return 0


def cmd_courier_import(a: argparse.Namespace) -> int:
    path = Path(a.file)
    if path.stat().st_size > MAX_BUNDLE_BYTES:  # before reading it
        raise PayloadTooLarge(f"{path}: over {MAX_BUNDLE_BYTES} bytes, not a courier bundle")
    client = _client(a)
    client.timeout = TIMEOUT_S
    result = client.courier_import(path.read_bytes())
    back = None
    if a.return_out:
        back = _export(a, result["issuer"], Path(a.return_out))
    if a.json:
        _print_json({"imported": result, "returned": back})
        return 0
    e, r = result["envelopes"], result["receipts"]
    print(f"bundle {result['sequence']} from {result['issuer']} imported: {e['accepted']} new, "
          f"{e['duplicate']} already held, {e['refused']} refused; {r['delivered']} of our "
          f"messages now delivered ({r['ignored']} receipts already known); "
          f"{result['checkpoints_cosigned']} checkpoints cosigned, "
          f"{result['cosignatures_accepted']} cosignatures kept")
    for ref in result["refused"]:
        print(f"  envelope {ref['index']}: refused, {ref['code']}")
    if back is not None:
        print("return " + _said_export(back, Path(a.return_out)))
    return 0
