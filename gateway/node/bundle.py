"""Audit bundles: export a gateway's log for offline verification.

A bundle is a tar file (format ``blo-audit-bundle/v1``, docs/audit-bundle.md):

    manifest.json     format, office, origin, size, export time
    leaves.jsonl      one canonical leaf per line (leaf bytes = "blo-audit/v1\\n" + line)
    checkpoints.json  every signed checkpoint of this log, with the peers' cosignatures,
                      plus one signed at export time for the full size
    witnessed.json    every checkpoint of a peer's log that this gateway cosigned
    directory.bin     the co-signed trust directory;  roots.json  the VN and CN roots

The export checkpoint is signed over exactly the leaves written (the tree is recomputed from
them), so a gateway that appends while exporting cannot leave an unsigned tail. Verification
is ``gateway.audit.verify``.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

from gateway.audit.leaves import LEAF_PREFIX
from gateway.audit.merkle import CompactRange, leaf_hash
from gateway.audit.notes import log_origin, make_checkpoint
from gateway.audit.verify import FORMAT
from gateway.node.config import load_config
from gateway.protocol.errors import DirectoryError
from gateway.protocol.identity import Directory, Keyring, TrustRoots
from gateway.store import Store, make_engine

__all__ = ["FORMAT", "export_bundle"]



def export_bundle(home: Path, out: Path) -> dict[str, Any]:
    """Write the bundle of the gateway in ``home`` (it may be running)."""
    cfg = load_config(home)
    engine = make_engine(cfg.db_url, schema=cfg.database_schema or None)
    store = Store(engine, cfg.office_id)
    data = store.export_audit()
    engine.dispose()
    edge = CompactRange()
    for line in data["leaves"]:
        edge.append(leaf_hash(LEAF_PREFIX + line))
    size, root = edge.size, edge.root()
    now = int(time.time() * 1000)
    keyring = Keyring.load(cfg.path(cfg.keyring))
    # Signed with a key the bundle's directory lists (not one `keys rotate` added that no
    # directory lists yet); with an expired directory, the newest key, as before.
    with contextlib.suppress(DirectoryError):
        keyring = keyring.usable_in(Directory.verify(
            cfg.path(cfg.directory).read_bytes(), TrustRoots.load(cfg.path(cfg.roots)),
            now_ms=now))
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
