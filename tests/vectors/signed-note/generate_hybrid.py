"""Write blo-hybrid-checkpoint.json: a suite-2 checkpoint of an invented log, signed by the
log with Ed25519 and ML-DSA-65 and cosigned by a witness with both (gateway/audit/notes.py;
docs/audit-log.md, Suite 2).

    python tests/vectors/signed-note/generate_hybrid.py

The keys come from a fixed seed, so the key IDs and the Ed25519 lines are the same on every
run; ML-DSA-65 signing is hedged (randomised) in ``cryptography``, so the ML-DSA-65 lines
differ per run and the vector is verify-only for them. Test keys only (public here).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[2])]

from gateway.audit.notes import (  # noqa: E402
    MLDSA65_COSIGNATURE,
    MLDSA65_NOTE,
    cosign,
    key_id,
    log_origin,
    make_checkpoint,
    witness_name,
)
from gateway.protocol.identity import ED25519, ML_DSA_65, Keyring  # noqa: E402

NOW_MS = 1_796_000_000_000  # 2026-11-29T12:53:20Z


def _rng(label: str) -> Callable[[int], bytes]:
    """A deterministic stand-in for the CSPRNG (test keys only)."""
    counter = [0]

    def rng(n: int) -> bytes:
        counter[0] += 1
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{label}/{counter[0]}/{len(out)}".encode()).digest()
        return out[:n]
    return rng


def main() -> None:
    log = Keyring.generate("vn.example.blo", now_ms=NOW_MS - 1000, valid_ms=10**12,
                           rng=_rng("log"), post_quantum=True)
    wit = Keyring.generate("cn.example.blo", now_ms=NOW_MS - 1000, valid_ms=10**12,
                           rng=_rng("witness"), post_quantum=True)
    root = hashlib.sha256(b"an invented tree of seven leaves").digest()
    note = make_checkpoint(log, 7, root, NOW_MS, post_quantum=True)
    body = note.split("\n\n")[0] + "\n"
    note += cosign(wit, body, NOW_MS, post_quantum=True)

    def pk(ring: Keyring, alg: str) -> bytes:
        return next(k.public_key for k in ring.keys if k.algorithm == alg)

    origin, wname = log_origin(log.office_id), witness_name(wit.office_id)
    out = {
        "source": "tests/vectors/signed-note/generate_hybrid.py (invented keys and tree)",
        "note": note,
        "log_name": origin,
        "log_ed25519_public_key": base64.b64encode(pk(log, ED25519)).decode(),
        "log_mldsa65_public_key": base64.b64encode(pk(log, ML_DSA_65)).decode(),
        "log_ed25519_key_id": key_id(origin, 0x01, pk(log, ED25519)).hex(),
        "log_mldsa65_key_id": key_id(origin, MLDSA65_NOTE, pk(log, ML_DSA_65)).hex(),
        "witness_name": wname,
        "witness_ed25519_public_key": base64.b64encode(pk(wit, ED25519)).decode(),
        "witness_mldsa65_public_key": base64.b64encode(pk(wit, ML_DSA_65)).decode(),
        "witness_ed25519_key_id": key_id(wname, 0x04, pk(wit, ED25519)).hex(),
        "witness_mldsa65_key_id": key_id(wname, MLDSA65_COSIGNATURE, pk(wit, ML_DSA_65)).hex(),
        "mldsa65_note_type": MLDSA65_NOTE.hex(),
        "mldsa65_cosignature_type": MLDSA65_COSIGNATURE.hex(),
        "timestamp": NOW_MS // 1000,
    }
    (HERE / "blo-hybrid-checkpoint.json").write_text(json.dumps(out, indent=1,
                                                                ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
