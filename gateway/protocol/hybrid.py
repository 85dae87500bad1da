"""Hybrid signatures for suite 2: Ed25519 **and** ML-DSA-65 over the same bytes.

Suite 2 (docs/wire-format.md §14) signs everything that suite 1 signs with Ed25519 also with
ML-DSA-65 (FIPS 204, the "pure" variant with an empty context string, hedged signing as the
``cryptography`` package performs it), over the very same domain-separated bytes. Both are
required: a verifier refuses the signature if either half is missing or does not verify, so
it stays unforgeable while either algorithm holds. Both keys must belong to the same office.

A hybrid signature travels as ``HybridSignature``: the two key ids and the two signatures.
Its binary form (``encode``/``decode``) is used where one opaque field holds it:

    u8 len(ed_key_id) ‖ ed_key_id ‖ 64-byte Ed25519 signature
    ‖ u8 len(pq_key_id) ‖ pq_key_id ‖ 3309-byte ML-DSA-65 signature
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from gateway.protocol.errors import BadSignature, Malformed
from gateway.protocol.identity import ED25519, ML_DSA_65, Directory, KeyInfo, Keyring

__all__ = ["ED25519_SIG_LEN", "MLDSA65_SIG_LEN", "HybridSignature", "decode", "sign",
           "verify", "verify_keys"]

ED25519_SIG_LEN = 64
MLDSA65_SIG_LEN = 3309
MAX_ENCODED = 2 + 2 * 255 + ED25519_SIG_LEN + MLDSA65_SIG_LEN


@dataclass(frozen=True)
class HybridSignature:
    ed_key_id: str
    ed_signature: bytes
    pq_key_id: str
    pq_signature: bytes

    def encode(self) -> bytes:
        ed, pq = self.ed_key_id.encode("ascii"), self.pq_key_id.encode("ascii")
        return (bytes([len(ed)]) + ed + self.ed_signature
                + bytes([len(pq)]) + pq + self.pq_signature)


def decode(data: bytes) -> HybridSignature:
    """Parse ``HybridSignature.encode`` output exactly (no trailing bytes): ``MALFORMED``."""
    if len(data) > MAX_ENCODED:
        raise Malformed("hybrid signature too long")
    try:
        k = data[0]
        ed_kid = data[1:1 + k].decode("ascii")
        at = 1 + k
        ed_sig = data[at:at + ED25519_SIG_LEN]
        at += ED25519_SIG_LEN
        k2 = data[at]
        pq_kid = data[at + 1:at + 1 + k2].decode("ascii")
        at += 1 + k2
        pq_sig = data[at:at + MLDSA65_SIG_LEN]
        at += MLDSA65_SIG_LEN
    except (IndexError, UnicodeDecodeError) as e:
        raise Malformed("truncated hybrid signature") from e
    if (at != len(data) or len(ed_sig) != ED25519_SIG_LEN or len(pq_sig) != MLDSA65_SIG_LEN
            or len(ed_kid) != k or len(pq_kid) != k2):
        raise Malformed("bad hybrid signature lengths")
    return HybridSignature(ed_kid, ed_sig, pq_kid, pq_sig)


def sign(keyring: Keyring, message: bytes, *, at_ms: int) -> HybridSignature:
    """Sign ``message`` with the keyring's newest Ed25519 and ML-DSA-65 keys valid at
    ``at_ms`` (``KEY_EXPIRED`` if it holds no ML-DSA-65 key: it is not on suite 2)."""
    ed = keyring.signing_key(at_ms)
    pq = keyring.pq_signing_key(at_ms)
    return HybridSignature(ed.key_id, ed.signer.sign(message).signature,
                           pq.key_id, pq.pq_signer.sign(message))


def verify_keys(directory: Directory, sig: HybridSignature, *,
                received_at_ms: int | None = None) -> tuple[KeyInfo, KeyInfo]:
    """Look both keys up (listed, of the right algorithm, not revoked: ``UNKNOWN_KEY``,
    ``KEY_REVOKED``) and check they belong to one office (``BAD_SIGNATURE``). Validity
    periods are the caller's to check, at the time its rules name."""
    ed = directory.lookup(sig.ed_key_id, algorithm=ED25519, received_at_ms=received_at_ms)
    pq = directory.lookup(sig.pq_key_id, algorithm=ML_DSA_65, received_at_ms=received_at_ms)
    if ed.office_id != pq.office_id:
        raise BadSignature("the two halves of a hybrid signature are by different offices")
    return ed, pq


def verify(ed: KeyInfo, pq: KeyInfo, sig: HybridSignature, message: bytes) -> None:
    """Both halves must verify over ``message`` (``BAD_SIGNATURE`` naming which failed)."""
    if len(sig.ed_signature) != ED25519_SIG_LEN or len(sig.pq_signature) != MLDSA65_SIG_LEN:
        raise BadSignature("hybrid signature has the wrong lengths")
    try:
        nacl.signing.VerifyKey(ed.public_key).verify(message, sig.ed_signature)
    except (nacl.exceptions.BadSignatureError, ValueError) as e:
        raise BadSignature(f"Ed25519 signature by {ed.key_id} does not verify") from e
    try:
        mldsa.MLDSA65PublicKey.from_public_bytes(pq.public_key).verify(sig.pq_signature,
                                                                        message)
    except (InvalidSignature, ValueError) as e:
        raise BadSignature(f"ML-DSA-65 signature by {pq.key_id} does not verify") from e
