"""Write the known-answer courier-bundle vectors in tests/vectors/courier/ from fixed seeds.

    python tests/vectors/courier/generate.py [OUT_DIR]

One valid bundle from Lào Cai to Hekou (an envelope, a receipt, a witness request) with its
manifest, the signed message's digest, the signature and each item; and negative vectors
named for what they break, with the error code (docs/wire-format.md §13). The same test
network as the envelope vectors (tests/vectors/generate.py). tests/test_courier.py
re-runs this and compares byte for byte, checks each vector through the API, and decodes
the valid one by hand from the spec with the raw primitives only.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from gateway.audit.notes import make_checkpoint  # noqa: E402
from gateway.cli.provision import provision  # noqa: E402
from gateway.protocol import courier, envelope  # noqa: E402
from gateway.protocol.receipt import make_receipt  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads  # noqa: E402


def _envelope_generator() -> Any:
    """The envelope vectors' generator (its seeds and time), by path: both are generate.py."""
    import importlib.util

    name = "blo_envelope_vectors_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "vectors" /
                                                      "generate.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


_gen = _envelope_generator()
NOW, Drbg = _gen.NOW, _gen.Drbg


def build() -> dict[str, dict[str, Any]]:
    net = provision(NOW, rng=Drbg("blo-gateway test vectors: network"))
    common = {"roots_json": json.loads(net.roots.to_json()),
              "directory_hex": net.directory_bytes.hex()}
    lc = net.keyrings[LAOCAI]
    env = envelope.seal(case_payloads()[0].payload, sender=lc, recipients=[HEKOU],
                        directory=net.directory(), now_ms=NOW,
                        rng=Drbg("blo-gateway test vectors: courier envelope"))
    receipt = make_receipt(lc, message_id=bytes(range(16)), sender=HEKOU,
                           envelope_sha256=hashlib.sha256(b"an envelope of Hekou").digest(),
                           received_at_ms=NOW)
    note = make_checkpoint(lc, 3, hashlib.sha256(b"a tree of three").digest(), NOW)
    witness = ("old 0\n\n" + note).encode()
    items = [("envelope", env), ("receipt", receipt), ("witness", witness)]
    data = courier.make_bundle(lc, destination=HEKOU, sequence=7, created_at_ms=NOW,
                               ack_sequence=2, items=items)
    kid_len = data[6]
    mlen = int.from_bytes(data[7 + kid_len:11 + kid_len], "big")
    end = 11 + kid_len + mlen
    signer = lc.signing_key(NOW)
    out: dict[str, dict[str, Any]] = {"laocai-to-hekou": {
        "description": "an envelope, a receipt and a witness request from vn.laocai.blo "
                       "to cn.yunnan.hekou.blo, bundle 7, acknowledging bundle 2",
        "verify_at_ms": NOW, "me": HEKOU, "expect": "OK",
        "signer_key_id": signer.key_id, "signer_public_hex": signer.public_key.hex(),
        "manifest": data[11 + kid_len:end].decode("ascii"),
        "signed_message_sha256_hex": hashlib.sha256(courier.COURIER_DOMAIN
                                                    + data[:end]).hexdigest(),
        "signature_hex": data[end:end + 64].hex(),
        "items": [{"kind": k, "sha256_hex": hashlib.sha256(d).hexdigest(), "hex": d.hex()}
                  for k, d in items],
        "bundle_hex": data.hex(), "bundle_sha256_hex": hashlib.sha256(data).hexdigest(),
        **common}}
    last = len(data) - 1
    bad: list[tuple[str, str, bytes, str, str]] = [
        ("flipped-manifest-byte", "one bit of the manifest flipped", data[:end - 5]
         + bytes([data[end - 5] ^ 1]) + data[end - 4:], HEKOU, "BAD_SIGNATURE"),
        ("flipped-item-byte", "one bit of the last item flipped (the manifest signs its "
         "digest)", data[:last] + bytes([data[last] ^ 1]), HEKOU, "BAD_SIGNATURE"),
        ("truncated", "last 10 bytes missing", data[:-10], HEKOU, "BAD_SIGNATURE"),
        ("trailing-byte", "one byte after the last item", data + b"\x00", HEKOU, "MALFORMED"),
        ("unsupported-version", "version byte 2", data[:4] + b"\x02" + data[5:], HEKOU,
         "UNSUPPORTED_VERSION"),
        ("wrong-destination", "a valid bundle imported by another office", data,
         LAOCAI_BORDER_GUARD, "WRONG_DESTINATION"),
    ]
    for name, what, blob, me, code in bad:
        out[name] = {"description": what, "verify_at_ms": NOW, "me": me,
                     "bundle_hex": blob.hex(), "expect": code, **common}
    return out


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, vec in build().items():
        text = json.dumps(vec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (folder / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
