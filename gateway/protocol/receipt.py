"""Delivery receipts: what a receiving gateway signs once an envelope is verified and stored.

Layout (docs/wire-format.md §10)::

    "BLOR" | version u8 | suite u8 | kid_len u8 | signer key id
           | body_len u32be | ReceiptBody | signature[64]

The signature is Ed25519 over ``RECEIPT_DOMAIN ‖ every byte before it``. The sender
checks that the signer key belongs to the receiving office, and that the message
id and the SHA-256 of the envelope are the ones it sent, before it records
"delivered".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing
from google.protobuf.message import DecodeError

from gateway.protocol.errors import BadSignature, Malformed, PayloadTooLarge, UnsupportedVersion
from gateway.protocol.identity import ED25519, Directory, Keyring
from gateway.schemas.blo.v1 import envelope_pb2

__all__ = ["Receipt", "make_receipt", "read_receipt", "verify_receipt"]

MAGIC = b"BLOR"
VERSION = 1
SUITE = 1
RECEIPT_DOMAIN = b"blo-gateway/receipt/v1\x00"
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


def make_receipt(keyring: Keyring, *, message_id: bytes, sender: str, envelope_sha256: bytes,
                 received_at_ms: int) -> bytes:
    body = envelope_pb2.ReceiptBody(
        message_id=message_id, sender=sender, receiver=keyring.office_id,
        envelope_sha256=envelope_sha256, received_at_ms=received_at_ms,
    ).SerializeToString(deterministic=True)
    key = keyring.signing_key(received_at_ms)
    kid = key.key_id.encode("ascii")
    framed = _PREFIX.pack(MAGIC, VERSION, SUITE, len(kid)) + kid + _U32.pack(len(body)) + body
    return framed + key.signer.sign(RECEIPT_DOMAIN + framed).signature


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
    if version != VERSION or suite != SUITE:
        raise UnsupportedVersion("receipt version or suite not supported")
    pos = _PREFIX.size + kid_len
    if len(data) < pos + _U32.size:
        raise Malformed("receipt is truncated")
    (blen,) = _U32.unpack_from(data, pos)
    end = pos + _U32.size + blen
    if len(data) != end + 64:
        raise Malformed("receipt length does not match its framing")
    try:
        kid = data[_PREFIX.size:pos].decode("ascii")
    except UnicodeDecodeError as e:
        raise Malformed("receipt key id is not ASCII") from e
    if stored_at_ms is None:
        key = directory.key(kid, algorithm=ED25519, at_ms=now_ms)
    else:
        key = directory.lookup(kid, algorithm=ED25519, received_at_ms=stored_at_ms)
        directory.check_validity(key, stored_at_ms)
    if key.office_id != receiver:
        raise BadSignature(f"receipt signed by {key.office_id}, not by the recipient {receiver}")
    try:
        nacl.signing.VerifyKey(key.public_key).verify(RECEIPT_DOMAIN + data[:end], data[end:])
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
                   body.received_at_ms, kid)


def verify_receipt(data: bytes, directory: Directory, *, receiver: str, message_id: bytes,
                   envelope_sha256: bytes, now_ms: int,
                   stored_at_ms: int | None = None) -> Receipt:
    """Check a receipt for one envelope we sent; raises on any mismatch (``stored_at_ms``: as
    in ``read_receipt``)."""
    rec = read_receipt(data, directory, receiver=receiver, now_ms=now_ms,
                       stored_at_ms=stored_at_ms)
    if rec.message_id != message_id or rec.envelope_sha256 != envelope_sha256:
        raise BadSignature("receipt is for another message, envelope or office")
    return rec
