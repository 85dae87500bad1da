"""Write the suite-2 envelope vectors, tests/vectors/envelope/suite2-*.json (wire-format §14).

    python tests/vectors/generate_suite2.py [OUT_DIR]

Like generate.py (same fixed-seed DRBG, same layout of every input and intermediate), for
suite 2: Ed25519 + ML-DSA-65 signatures, the content key wrapped by HPKE ML-KEM-768 + X25519.
Two parts of a suite-2 envelope are randomised inside the ``cryptography`` package and cannot
be drawn from a seed: the HPKE encapsulation (enc) and the hedged ML-DSA-65 signature. So
these are **verify vectors**: an implementation must open and verify them, not reproduce them
byte for byte. The keys, directory, message id, content key, nonce and payload are
deterministic, and tests/test_vectors.py checks that a fresh run agrees on those (and on the
file names); the envelopes are written once and then kept. Negative vectors are named for
what they break and give the error code; ``receive: true`` vectors apply the receiver's
required-suite rule too (``envelope.check_downgrade``).
The private keys here are public test values: never use them for anything else.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _suite1_generator() -> Any:
    """tests/vectors/generate.py, by its path (under the name tests/test_vectors.py uses)."""
    name = "envelope_vectors_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("generate.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


_gen = _suite1_generator()
NOW, Drbg, _keys = _gen.NOW, _gen.Drbg, _gen._keys

from gateway.cli.provision import provision  # noqa: E402
from gateway.protocol import envelope  # noqa: E402
from gateway.protocol.envelope import _hpke_info  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD, case_payloads  # noqa: E402

PQ_SIG = 3309
#: the fields of a vector that a fresh run must reproduce exactly
DETERMINISTIC = ("description", "created_at_ms", "verify_at_ms", "sender", "signer_key_id",
                 "pq_signer_key_id", "message_id_hex", "content_key_hex", "payload_nonce_hex",
                 "payload_hex", "payload_json", "expect", "open_as", "receive", "roots_json",
                 "directory_hex", "test_only_private_keys")


def _strip_pq(data: bytes) -> bytes:
    """The suite-2 envelope reframed as suite 1: ML-DSA-65 key id and signature removed."""
    kid_end = 7 + data[6]
    return (data[:4] + b"\x01\x01" + data[6:kid_end]
            + data[kid_end + 1 + data[kid_end]:-PQ_SIG])


def build() -> dict[str, dict[str, Any]]:
    net = provision(NOW, rng=Drbg("blo-gateway test vectors: suite 2 network"),
                    post_quantum=True, hybrid_roots=False)  # made before hybrid roots
    directory = net.directory()
    common = {
        "roots_json": json.loads(net.roots.to_json()),
        "directory_hex": net.directory_bytes.hex(),
        "test_only_private_keys": _keys(net),
        "note": "suite 2: the HPKE encapsulation and the ML-DSA-65 signature are randomised; "
                "verify and open this envelope, do not expect to reproduce it",
    }
    steps = {m.payload.message_type.slug: m for m in case_payloads()}
    cases = [
        ("suite2-hotline-report-one-recipient", "hotline_report", LAOCAI, [HEKOU]),
        ("suite2-identification-request-two-recipients", "identification_request", HEKOU,
         [LAOCAI, LAOCAI_BORDER_GUARD]),
        ("suite2-acknowledgement", "acknowledgement", HEKOU, [LAOCAI]),
    ]
    out: dict[str, dict[str, Any]] = {}
    first: bytes = b""
    for name, slug, sender, recipients in cases:
        payload = steps[slug].payload
        rng = Drbg(f"blo-gateway test vectors: {name}")
        data = envelope.seal(payload, sender=net.keyrings[sender], recipients=recipients,
                             directory=directory, now_ms=NOW, rng=rng)
        env = envelope.verify(data, directory, now_ms=NOW)
        assert env.suite == 2
        mid, content_key, nonce = rng.draws
        wraps = [{"office_id": r.office_id, "key_id": r.key_id,
                  "hpke_info_hex": _hpke_info(env.header.message_id, r.key_id).hex(),
                  "hpke_encapsulated_hex": r.hpke_encapsulated.hex()}
                 for r in env.header.recipients]
        signed_part = data[:-(64 + PQ_SIG)]
        out[name] = {
            "description": f"{slug} sealed by {sender} for {', '.join(recipients)} (suite 2)",
            "created_at_ms": NOW,
            "verify_at_ms": NOW,
            "sender": sender,
            "signer_key_id": env.signer_key_id,
            "pq_signer_key_id": env.pq_signer_key_id,
            "message_id_hex": mid.hex(),
            "content_key_hex": content_key.hex(),
            "payload_nonce_hex": nonce.hex(),
            "payload_hex": payload.to_bytes().hex(),
            "payload_json": payload.to_dict(),
            "recipients": wraps,
            "header_hex": env.header_bytes.hex(),
            "aad_hex": (envelope.AAD_DOMAIN_V2 + env.header_bytes).hex(),
            "ciphertext_hex": env.ciphertext.hex(),
            "signed_message_sha256_hex": hashlib.sha256(envelope.SIGN_DOMAIN_V2
                                                        + signed_part).hexdigest(),
            "ed25519_signature_hex": data[-(64 + PQ_SIG):-PQ_SIG].hex(),
            "mldsa65_signature_hex": data[-PQ_SIG:].hex(),
            "envelope_hex": data.hex(),
            "envelope_sha256_hex": hashlib.sha256(data).hexdigest(),
            "expect": "OK",
            "open_as": recipients,
            "receive": True,
            **common,
        }
        first = first or data
    ed_at = len(first) - 64 - PQ_SIG
    bad: list[tuple[str, str, bytes, str]] = [
        ("suite2-ed25519-signature-flipped", "first Ed25519 signature byte flipped",
         first[:ed_at] + bytes([first[ed_at] ^ 1]) + first[ed_at + 1:], "BAD_SIGNATURE"),
        ("suite2-mldsa65-signature-flipped", "last ML-DSA-65 signature byte flipped",
         first[:-1] + bytes([first[-1] ^ 1]), "BAD_SIGNATURE"),
        ("suite2-stripped-pq-signature", "the 3309-byte ML-DSA-65 signature removed",
         first[:-PQ_SIG], "MALFORMED"),
        ("suite2-stripped-and-reframed-as-suite-1",
         "ML-DSA-65 key id and signature removed, version and suite bytes set to 1 (the "
         "Ed25519 signature is over the v2 domain and framing)", _strip_pq(first),
         "BAD_SIGNATURE"),
        ("suite2-downgraded-suite-byte", "suite byte 1 in a version-2 envelope",
         first[:5] + b"\x01" + first[6:], "UNSUPPORTED_VERSION"),
        ("suite2-unknown-suite", "suite byte 3 in a version-2 envelope",
         first[:5] + b"\x03" + first[6:], "UNSUPPORTED_VERSION"),
    ]
    for name, what, data, code in bad:
        out[name] = {"description": what, "verify_at_ms": NOW, "envelope_hex": data.hex(),
                     "expect": code, "receive": True, **common}
    # A correct suite-1 envelope between two offices that both accept suite 2: it verifies,
    # and a receiver refuses it.
    payload = steps["hotline_report"].payload
    rng = Drbg("blo-gateway test vectors: suite2-downgrade-to-suite-1")
    old = envelope.seal(payload, sender=net.keyrings[LAOCAI], recipients=[HEKOU],
                        directory=directory, now_ms=NOW, rng=rng, suite=1)
    out["suite2-downgrade-to-suite-1"] = {
        "description": "a valid suite-1 envelope from Lào Cai to Hekou, which both accept "
                       "suite 2: refused on reception (verify_stored would accept it)",
        "verify_at_ms": NOW, "envelope_hex": old.hex(), "expect": "DOWNGRADE",
        "receive": True, "open_as": [HEKOU], "payload_hex": payload.to_bytes().hex(),
        **common}
    return out


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, vec in build().items():
        text = json.dumps(vec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (folder / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "envelope")
