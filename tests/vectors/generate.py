"""Write the known-answer envelope vectors in tests/vectors/envelope/ from fixed seeds.

    python tests/vectors/generate.py [OUT_DIR]

Each file lists every input (test-only keys, message id, content key, ephemeral
keys, nonce, times) and every intermediate (header bytes, key-encryption keys,
wrapped keys, ciphertext, the signed message) so that an implementation in
another language can check itself step by step; docs/wire-format.md walks the
first one by hand. Negative vectors are named for what they break and give the
error code. tests/test_vectors.py re-runs this and compares byte for byte.
The private keys here are public test values: never use them for anything else.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gateway.cli.provision import provision  # noqa: E402
from gateway.protocol import envelope  # noqa: E402
from gateway.protocol.envelope import _kek  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, T0, case_payloads  # noqa: E402

NOW = T0 - 7 * 3600 * 1000  # 2026-03-02T02:40:00Z = 09:40 in Lào Cai


class Drbg:
    """SHA-256(seed ‖ counter) stream: deterministic bytes for test vectors only."""

    def __init__(self, seed: str) -> None:
        self.seed = seed.encode()
        self.counter = 0
        self.draws: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        self.draws.append(out[:n])
        return out[:n]


def _keys(net: Any) -> dict[str, Any]:
    return {
        office: [{"algorithm": k.algorithm, "key_id": k.key_id, "secret_hex": k.secret.hex(),
                  "public_hex": k.public_key.hex(), "not_before_ms": k.not_before_ms,
                  "not_after_ms": k.not_after_ms} for k in ring.keys]
        for office, ring in net.keyrings.items()
    }


def _short_ciphertext(data: bytes) -> bytes:
    """The envelope with its ciphertext cut to 15 bytes (framing otherwise consistent)."""
    pos = 7 + data[6]
    pos += 4 + int.from_bytes(data[pos:pos + 4], "big")
    clen = int.from_bytes(data[pos:pos + 4], "big")
    return data[:pos] + (15).to_bytes(4, "big") + data[pos + 4:pos + 4 + 15] \
        + data[pos + 4 + clen:]


def build() -> dict[str, dict[str, Any]]:
    net = provision(NOW, rng=Drbg("blo-gateway test vectors: network"))
    directory = net.directory()
    common = {
        "roots_json": json.loads(net.roots.to_json()),
        "directory_hex": net.directory_bytes.hex(),
        "test_only_private_keys": _keys(net),
    }
    steps = {m.payload.message_type.slug: m for m in case_payloads()}
    cases = [
        ("hotline-report-one-recipient", "hotline_report", LAOCAI, [HEKOU]),
        ("identification-request-two-recipients", "identification_request", HEKOU,
         [LAOCAI, LAOCAI_BORDER_GUARD]),
        ("acknowledgement", "acknowledgement", HEKOU, [LAOCAI]),
    ]
    out: dict[str, dict[str, Any]] = {}
    first: bytes = b""
    for name, slug, sender, recipients in cases:
        payload = steps[slug].payload
        rng = Drbg(f"blo-gateway test vectors: {name}")
        data = envelope.seal(payload, sender=net.keyrings[sender], recipients=recipients,
                             directory=directory, now_ms=NOW, rng=rng)
        env = envelope.verify(data, directory, now_ms=NOW)
        mid, content_key, *ephs, nonce = rng.draws
        wraps = []
        for r, eph_secret in zip(env.header.recipients, ephs, strict=True):
            ring = net.keyrings[r.office_id]
            sk = ring.encryption_key(r.key_id)
            assert sk is not None
            kek = _kek(sk.secret, r.ephemeral_public_key,
                       sk.public_key, env.header.message_id, r.key_id)
            wraps.append({"office_id": r.office_id, "key_id": r.key_id,
                          "ephemeral_secret_hex": eph_secret.hex(),
                          "ephemeral_public_hex": r.ephemeral_public_key.hex(),
                          "kek_hex": kek.hex(), "wrapped_key_hex": r.wrapped_key.hex()})
        signed_part = data[:-64]
        out[name] = {
            "description": f"{slug} sealed by {sender} for {', '.join(recipients)}",
            "created_at_ms": NOW,
            "verify_at_ms": NOW,
            "sender": sender,
            "signer_key_id": env.signer_key_id,
            "message_id_hex": mid.hex(),
            "content_key_hex": content_key.hex(),
            "payload_nonce_hex": nonce.hex(),
            "payload_hex": payload.to_bytes().hex(),
            "payload_json": payload.to_dict(),
            "recipients": wraps,
            "header_hex": env.header_bytes.hex(),
            "aad_hex": (envelope.AAD_DOMAIN + env.header_bytes).hex(),
            "ciphertext_hex": env.ciphertext.hex(),
            "signed_message_sha256_hex": hashlib.sha256(envelope.SIGN_DOMAIN
                                                        + signed_part).hexdigest(),
            "signature_hex": data[-64:].hex(),
            "envelope_hex": data.hex(),
            "envelope_sha256_hex": hashlib.sha256(data).hexdigest(),
            "expect": "OK",
            "open_as": recipients,
            **common,
        }
        first = first or data
    bad: list[tuple[str, str, bytes, int, str]] = [
        ("bad-signature-last-byte", "last signature byte flipped", first[:-1]
         + bytes([first[-1] ^ 1]), NOW, "BAD_SIGNATURE"),
        ("tampered-ciphertext", "one ciphertext bit flipped (signature covers it)",
         first[:-80] + bytes([first[-80] ^ 0x10]) + first[-79:], NOW, "BAD_SIGNATURE"),
        ("truncated", "last 10 bytes missing", first[:-10], NOW, "MALFORMED"),
        ("unsupported-version", "version byte 2", first[:4] + b"\x02" + first[5:], NOW,
         "UNSUPPORTED_VERSION"),
        ("unknown-suite", "suite byte 9", first[:5] + b"\x09" + first[6:], NOW,
         "UNSUPPORTED_VERSION"),
        ("expired", "verified after expires_at_ms", first, NOW + envelope.DEFAULT_TTL_MS,
         "EXPIRED"),
        ("ciphertext-shorter-than-tag", "ciphertext length 15, less than the 16-byte tag",
         _short_ciphertext(first), NOW, "MALFORMED"),
    ]
    for name, what, data, at, code in bad:
        out[name] = {"description": what, "verify_at_ms": at, "envelope_hex": data.hex(),
                     "expect": code, **common}
    out["not-a-recipient"] = {
        "description": "a valid envelope opened by an office it was not sealed for",
        "verify_at_ms": NOW, "envelope_hex": first.hex(), "open_as": [LAOCAI_BORDER_GUARD],
        "expect": "NOT_A_RECIPIENT", **common}
    return out


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, vec in build().items():
        text = json.dumps(vec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (folder / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "envelope")
