"""Delivery receipts: what a receiving gateway signs once an envelope is verified and stored.

Layout (docs/wire-format.md §10)::

    "BLOR" | version u8 | suite u8 | kid_len u8 | signer key id
           | body_len u32be | ReceiptBody | signature[64]

The signature is Ed25519 over ``RECEIPT_DOMAIN ‖ every byte before it``. The sender
checks that the signer key belongs to the receiving office, and that the message
id and the SHA-256 of the envelope are the ones it sent, before it records
"delivered".

For a suite-2 envelope the receipt is version 2 / suite 2 (docs/wire-format.md §14)::

    "BLOR" | 0x02 | 0x02 | kid_len u8 | Ed25519 key id | pq_kid_len u8 | ML-DSA-65 key id
           | body_len u32be | ReceiptBody | Ed25519 signature[64] | ML-DSA-65 signature[3309]

both signatures over ``RECEIPT_DOMAIN_V2 ‖ every byte before the signatures``, by keys of the
receiving office. A receipt's suite must be its envelope's: a suite-1 receipt for a suite-2
envelope is ``DOWNGRADE`` (``verify_receipt(..., suite=)``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing
from google.protobuf.message import DecodeError

from gateway.protocol.errors import (
    BadSignature,
    Downgrade,
    Malformed,
    PayloadTooLarge,
    UnsupportedVersion,
)
from gateway.protocol.hybrid import ED25519_SIG_LEN, MLDSA65_SIG_LEN, HybridSignature
from gateway.protocol.hybrid import verify as verify_hybrid
from gateway.protocol.identity import (
    ED25519,
    ML_DSA_65,
    SUITE_1,
    SUITE_2,
    Directory,
    KeyInfo,
    Keyring,
)
from gateway.schemas.blo.v1 import envelope_pb2

__all__ = ["Receipt", "make_receipt", "read_receipt", "verify_receipt"]

MAGIC = b"BLOR"
VERSION = 1
SUITE = SUITE_1
#: suite → the receipt version that carries it
VERSIONS = {SUITE_1: 1, SUITE_2: 2}
RECEIPT_DOMAIN = b"blo-gateway/receipt/v1\x00"
RECEIPT_DOMAIN_V2 = b"blo-gateway/receipt/v2\x00"
SIG_LENS = {SUITE_1: ED25519_SIG_LEN, SUITE_2: ED25519_SIG_LEN + MLDSA65_SIG_LEN}
MAX_RECEIPT_BYTES = 4096
_PREFIX = struct.Struct(">4sBBB")
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class Receipt:
    raw: bytes = field(repr=False)
    message_id: bytes
    sender: str
    receiver: str
    envelope_sha256: bytes
    received_at_ms: int
    signer_key_id: str
    suite: int = SUITE_1
    pq_signer_key_id: str = ""  # suite 2


def make_receipt(keyring: Keyring, *, message_id: bytes, sender: str, envelope_sha256: bytes,
                 received_at_ms: int, suite: int = SUITE_1) -> bytes:
    """A receipt signed by ``keyring``'s office, in the suite of the envelope it is for."""
    if suite not in VERSIONS:
        raise UnsupportedVersion(f"receipt suite {suite} is not supported")
    body = envelope_pb2.ReceiptBody(
        message_id=message_id, sender=sender, receiver=keyring.office_id,
        envelope_sha256=envelope_sha256, received_at_ms=received_at_ms,
    ).SerializeToString(deterministic=True)
    key = keyring.signing_key(received_at_ms)
    kid = key.key_id.encode("ascii")
    kids = kid
    if suite == SUITE_2:
        pq = keyring.pq_signing_key(received_at_ms)
        pq_kid = pq.key_id.encode("ascii")
        kids += bytes([len(pq_kid)]) + pq_kid
    framed = (_PREFIX.pack(MAGIC, VERSIONS[suite], suite, len(kid)) + kids
              + _U32.pack(len(body)) + body)
    if suite == SUITE_1:
        return framed + key.signer.sign(RECEIPT_DOMAIN + framed).signature
    signed = RECEIPT_DOMAIN_V2 + framed
    return framed + key.signer.sign(signed).signature + pq.pq_signer.sign(signed)


def read_receipt(data: bytes, directory: Directory, *, receiver: str, now_ms: int,
                 stored_at_ms: int | None = None) -> Receipt:
    """Check a receipt's framing, signer (a key of ``receiver``) and signature, then parse it;
    which envelope it is for is the caller's to compare (``verify_receipt`` does).

    ``stored_at_ms``: the receipt is one we stored then (by our clock); it is checked as of
    that moment, like a stored envelope (docs/wire-format.md §3.1): a key rotated out or
    revoked since does not make it fail."""
    if len(data) > MAX_RECEIPT_BYTES:
        raise PayloadTooLarge("receipt too large")
    if len(data) < _PREFIX.size:
        raise Malformed("receipt is truncated")
    magic, version, suite, kid_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise Malformed("not a receipt")
    if VERSIONS.get(suite) != version:
        raise UnsupportedVersion("receipt version or suite not supported")
    kid_end = pos = _PREFIX.size + kid_len
    pq_kid_b = b""
    if suite == SUITE_2:
        if len(data) <= pos:
            raise Malformed("receipt is truncated")
        pq_kid_b = data[pos + 1:pos + 1 + data[pos]]
        pos += 1 + data[pos]
    if len(data) < pos + _U32.size:
        raise Malformed("receipt is truncated")
    (blen,) = _U32.unpack_from(data, pos)
    end = pos + _U32.size + blen
    if len(data) != end + SIG_LENS[suite]:
        raise Malformed("receipt length does not match its framing")
    try:
        kid = data[_PREFIX.size:kid_end].decode("ascii")
        pq_kid = pq_kid_b.decode("ascii")
    except UnicodeDecodeError as e:
        raise Malformed("receipt key id is not ASCII") from e
    key = _receipt_key(directory, kid, ED25519, now_ms, stored_at_ms)
    if key.office_id != receiver:
        raise BadSignature(f"receipt signed by {key.office_id}, not by the recipient {receiver}")
    if suite == SUITE_2:
        pq = _receipt_key(directory, pq_kid, ML_DSA_65, now_ms, stored_at_ms)
        if pq.office_id != receiver:
            raise BadSignature(f"receipt signed by {pq.office_id}, not by the recipient "
                               f"{receiver}")
        sig = HybridSignature(kid, data[end:end + ED25519_SIG_LEN], pq_kid,
                              data[end + ED25519_SIG_LEN:])
        verify_hybrid(key, pq, sig, RECEIPT_DOMAIN_V2 + data[:end])
    else:
        try:
            nacl.signing.VerifyKey(key.public_key).verify(RECEIPT_DOMAIN + data[:end],
                                                          data[end:])
        except nacl.exceptions.BadSignatureError as e:
            raise BadSignature("receipt signature does not verify") from e
    body = envelope_pb2.ReceiptBody()
    try:
        body.ParseFromString(data[pos + _U32.size:end])
    except DecodeError as e:
        raise Malformed("receipt body is not a ReceiptBody") from e
    if body.receiver != receiver:
        raise BadSignature("receipt is for another office")
    return Receipt(data, body.message_id, body.sender, body.receiver, body.envelope_sha256,
                   body.received_at_ms, kid, suite, pq_kid)


def _receipt_key(directory: Directory, key_id: str, algorithm: str, now_ms: int,
                 stored_at_ms: int | None) -> KeyInfo:
    if stored_at_ms is None:
        return directory.key(key_id, algorithm=algorithm, at_ms=now_ms)
    key = directory.lookup(key_id, algorithm=algorithm, received_at_ms=stored_at_ms)
    directory.check_validity(key, stored_at_ms)
    return key


def verify_receipt(data: bytes, directory: Directory, *, receiver: str, message_id: bytes,
                   envelope_sha256: bytes, now_ms: int, stored_at_ms: int | None = None,
                   suite: int | None = None) -> Receipt:
    """Check a receipt for one envelope we sent; raises on any mismatch (``stored_at_ms``: as
    in ``read_receipt``). ``suite``: the envelope's; the receipt must be in the same suite
    (a lower one is ``DOWNGRADE``, a higher one ``MALFORMED``)."""
    rec = read_receipt(data, directory, receiver=receiver, now_ms=now_ms,
                       stored_at_ms=stored_at_ms)
    if rec.message_id != message_id or rec.envelope_sha256 != envelope_sha256:
        raise BadSignature("receipt is for another message, envelope or office")
    if suite is not None and rec.suite < suite:
        raise Downgrade(f"a suite-{rec.suite} receipt for a suite-{suite} envelope")
    if suite is not None and rec.suite != suite:
        raise Malformed(f"a suite-{rec.suite} receipt for a suite-{suite} envelope")
    return rec
