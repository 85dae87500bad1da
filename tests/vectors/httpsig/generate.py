"""Write the known-answer vectors of version-2 peer requests (RFC 9421) in tests/vectors/httpsig/.

    python tests/vectors/httpsig/generate.py [OUT_DIR]

A suite-2 test network from fixed seeds (every office with Ed25519 and ML-DSA-65 keys; the
roots and the co-signed directory in ``network.json``), then one signed request from Lào Cai
to Hekou with a fixed ``created`` and ``nonce``: the request (method, target, headers, body),
the Content-Digest, the exact signature bases, the Ed25519 signature (deterministic, RFC 8032)
and an ML-DSA-65 signature, with a signed answer to it. ML-DSA-65 signing is hedged (FIPS 204
with fresh randomness, as the ``cryptography`` package signs): its signature differs at each
run, so it is a verify-only value. Negative vectors are named for what they break, with the
error code the receiver answers (docs/wire-format.md §15). tests/test_httpsig.py re-runs this
and compares everything but the ML-DSA-65 signatures byte for byte, checks each vector through
the project's code, and rebuilds the signature base from the spec text with raw primitives.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from gateway.cli.provision import provision  # noqa: E402
from gateway.protocol import httpsig, sfv  # noqa: E402
from gateway.protocol.identity import ED25519, ML_DSA_65  # noqa: E402
from gateway.protocol.scenario import HEKOU, LAOCAI, LAOCAI_BORDER_GUARD  # noqa: E402


def _envelope_generator() -> Any:
    """The envelope vectors' generator (its seeds and time), by path: all are generate.py."""
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
NONCE = "000102030405060708090a0b0c0d0e0f"
METHOD, TARGET = "POST", "/peer/v1/redeliver"
BODY = b'{"since_ms": 1772400000000}'
MAX_SKEW_MS = 300_000
#: what a re-run cannot reproduce (hedged ML-DSA-65 signing): left out of the comparison
HEDGED = ("mldsa65_signature_b64", "response_mldsa65_signature_b64")


def network() -> Any:
    return provision(NOW, rng=Drbg("blo-gateway test vectors: httpsig network"),
                     post_quantum=True, hybrid_roots=False)  # made before hybrid roots


def _split_signature(header: str) -> tuple[str, str]:
    """The ``ed`` and ``pq`` members of a Signature header (base64 only)."""
    d = sfv.parse_dictionary(header)
    ed, pq = d["ed"][0], d["pq"][0]
    assert isinstance(ed, bytes) and isinstance(pq, bytes)
    return base64.b64encode(ed).decode(), base64.b64encode(pq).decode()


def build() -> dict[str, dict[str, Any]]:
    net = network()
    lc = net.keyrings[LAOCAI]
    ed, pq = lc.signing_key(NOW), lc.pq_signing_key(NOW)
    headers, ed_sig = httpsig.sign_request(lc, method=METHOD, path_qs=TARGET, destination=HEKOU,
                                           body=BODY, now_ms=NOW, nonce=NONCE)
    created = NOW // 1000
    path, query = httpsig.split_target(TARGET)
    bases = {label: httpsig.request_base(
        method=METHOD, path=path, query=query, content_digest=headers[httpsig.CONTENT_DIGEST],
        destination=HEKOU, params=httpsig.signature_params(
            created_s=created, nonce=NONCE, keyid=key.key_id, alg=alg)).decode("ascii")
        for label, key, alg in (("ed", ed, httpsig.ALG_ED25519),
                                ("pq", pq, httpsig.ALG_MLDSA65))}
    ed_b64, pq_b64 = _split_signature(headers[httpsig.SIGNATURE])
    answer = b'{"requeued": 2}'
    resp_headers = httpsig.sign_response(net.keyrings[HEKOU], status=200, body=answer,
                                         request_ed_signature=ed_sig, now_ms=NOW)
    resp_ed, resp_pq = _split_signature(resp_headers[httpsig.SIGNATURE])
    hk_ed = net.keyrings[HEKOU].signing_key(NOW)
    response_base = httpsig.response_base(
        status=200, content_digest=resp_headers[httpsig.CONTENT_DIGEST],
        request_ed_signature=ed_sig, params=httpsig.params_of(resp_headers[httpsig.SIGNATURE_INPUT], "ed")).decode("ascii")
    keys = {"ed25519_seed_hex": ed.secret.hex(), "ed25519_public_hex": ed.public_key.hex(),
            "ed25519_key_id": ed.key_id, "mldsa65_seed_hex": pq.secret.hex(),
            "mldsa65_public_hex": pq.public_key.hex(), "mldsa65_key_id": pq.key_id}
    assert ed.algorithm == ED25519 and pq.algorithm == ML_DSA_65

    def vector(description: str, *, expect: str, hdrs: dict[str, str], method: str = METHOD,
               target: str = TARGET, body: bytes = BODY, me: str = HEKOU,
               now_ms: int = NOW) -> dict[str, Any]:
        return {"description": description, "expect": expect, "me": me, "now_ms": now_ms,
                "max_skew_ms": MAX_SKEW_MS, "origin": LAOCAI,
                "request": {"method": method, "target": target, "headers": hdrs,
                            "body_hex": body.hex()}}

    valid = vector("a re-delivery request from vn.laocai.blo to cn.yunnan.hekou.blo, "
                   "signed with Ed25519 and ML-DSA-65 (RFC 9421), and Hekou's signed answer",
                   expect="OK", hdrs=headers)
    valid.update({
        "keys": keys, "created": created, "nonce": NONCE,
        "content_digest": headers[httpsig.CONTENT_DIGEST],
        "signature_base_ed": bases["ed"], "signature_base_pq": bases["pq"],
        "ed25519_signature_b64": ed_b64, "mldsa65_signature_b64": pq_b64,
        "mldsa65_note": "hedged signing (FIPS 204 with fresh randomness): verify only",
        "response": {"status": 200, "body_hex": answer.hex(), "headers": resp_headers,
                     "signer_ed25519_public_hex": hk_ed.public_key.hex(),
                     "signature_base_ed": response_base},
        "response_ed25519_signature_b64": resp_ed, "response_mldsa65_signature_b64": resp_pq})
    only_ed = dict(headers)
    only_ed[httpsig.SIGNATURE_INPUT] = headers[httpsig.SIGNATURE_INPUT].split(", pq=")[0]
    only_ed[httpsig.SIGNATURE] = headers[httpsig.SIGNATURE].split(", pq=")[0]
    to_guard, _ = httpsig.sign_request(lc, method=METHOD, path_qs=TARGET,
                                       destination=LAOCAI_BORDER_GUARD, body=BODY, now_ms=NOW,
                                       nonce=NONCE)
    return {"laocai-to-hekou": valid,
           "digest-mismatch": vector("the body changed after signing: its SHA-256 is not the "
                                     "signed Content-Digest", expect="BAD_SIGNATURE",
                                     hdrs=headers, body=b'{"since_ms": 1772400000001}'),
           "missing-pq-signature": vector("the ML-DSA-65 signature stripped between two suite-2 "
                                          "offices", expect="DOWNGRADE", hdrs=only_ed),
           "wrong-destination": vector("signed for vn.laocai.bdbp.quocte, presented to Hekou",
                                       expect="WRONG_DESTINATION", hdrs=to_guard),
           "tampered-path": vector("the path changed after signing", expect="BAD_SIGNATURE",
                                   hdrs=headers, target="/peer/v1/envelopes"),
           "expired": vector("received 6 minutes after it was created (skew window ±5 min)",
                             expect="EXPIRED", hdrs=headers, now_ms=NOW + 360_000)}


def network_json() -> dict[str, Any]:
    net = network()
    return {"roots_json": json.loads(net.roots.to_json()),
            "directory_hex": net.directory_bytes.hex(), "now_ms": NOW}


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, vec in {**build(), "network": network_json()}.items():
        text = json.dumps(vec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        (folder / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
