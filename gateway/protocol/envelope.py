"""The signed, encrypted envelope: seal, verify, open. No I/O.

Wire layout (docs/wire-format.md is the normative text)::

    "BLOE" | version u8 | suite u8 | kid_len u8 | signer key id
           | header_len u32be | header | ct_len u32be | ciphertext | signature[64]

Suite 1: Ed25519 signature over ``SIGN_DOMAIN ‖ every byte before the signature``;
payload under ChaCha20-Poly1305 (RFC 8439) with a fresh 32-byte content key and
``AAD_DOMAIN ‖ header`` as associated data; the content key wrapped for each
recipient: X25519 with an ephemeral key → HKDF-SHA256 → ChaCha20-Poly1305.

Opening order is part of the security contract: size limit, framing, signer
key from the directory (known, unrevoked), signature over the exact bytes, and
only then the protobuf header is parsed; the key must have been valid at the
header's signed creation time, which must not be in the receiver's future; the
payload is decrypted and parsed last, and only by a recipient office.
``verify`` is for reception (the receiver's clock); ``verify_stored`` re-verifies
what this gateway stored, as of when it stored it.

Just over 400 lines on purpose: the opening order above is the security contract, kept
in one file so that it reads top to bottom.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError

from gateway.protocol.errors import (
    BadSignature,
    DecryptionFailed,
    Expired,
    Malformed,
    NotARecipient,
    PayloadTooLarge,
    UnsupportedVersion,
)
from gateway.protocol.identity import ED25519, Directory, Keyring
from gateway.protocol.messages import HandlingCode, MessageType, Payload, Priority
from gateway.schemas.blo.v1 import common_pb2, envelope_pb2

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "MAX_LIFETIME_MS",
    "SUITE_ED25519_X25519_CHACHA20POLY1305",
    "Header",
    "Recipient",
    "VerifiedEnvelope",
    "open_envelope",
    "open_with_plaintext",
    "peek_signer",
    "seal",
    "seal_with_header",
    "verify",
    "verify_stored",
]

MAGIC = b"BLOE"
VERSION = 1
SUITE_ED25519_X25519_CHACHA20POLY1305 = 1
SUITES = {SUITE_ED25519_X25519_CHACHA20POLY1305: "Ed25519 / X25519-HKDF-SHA256 / ChaCha20-Poly1305"}
SIGN_DOMAIN = b"blo-gateway/envelope/v1\x00"
AAD_DOMAIN = b"blo-gateway/payload/v1\x00"
WRAP_DOMAIN = b"blo-gateway/wrap/v1\x00"
MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_RECIPIENTS = 16
# Field limits of the header, shared with the store's columns (gateway/store/): an envelope
# whose header breaks one is MALFORMED at sealing and at opening, never a storage error.
MAX_OFFICE_ID = 64
MAX_KEY_ID = 64
MAX_CASE_REFERENCE = 128
MAX_TIME_MS = 2**62  # times are Unix ms in int64 columns; negative or later is malformed
MAX_WORKFLOW_STEP = 2**31 - 1  # an int32 column
_OFFICE_ID = re.compile(r"[a-z0-9][a-z0-9.\-]*")
_MESSAGE_ID_HEX = re.compile(r"[0-9a-f]{32}")
ALLOWED_SKEW_MS = 5 * 60 * 1000
DEFAULT_TTL_MS = 30 * 24 * 3600 * 1000
#: The longest lifetime (expires - created) an envelope may claim. It bounds how long after
#: its expiry a key that was stolen (and not revoked) can still sign backdated envelopes.
MAX_LIFETIME_MS = 90 * 24 * 3600 * 1000
TAG_LEN = 16
_PREFIX = struct.Struct(">4sBBB")
_U32 = struct.Struct(">I")
_ZERO_NONCE = bytes(12)
SIG_LEN = 64

Random = Callable[[int], bytes]


@dataclass(frozen=True)
class Recipient:
    office_id: str
    key_id: str
    ephemeral_public_key: bytes
    wrapped_key: bytes


@dataclass(frozen=True)
class Header:
    """The authenticated, unencrypted routing metadata (no personal data)."""

    message_id: bytes
    message_type: MessageType
    sender: str
    recipients: tuple[Recipient, ...]
    created_at_ms: int
    expires_at_ms: int
    in_reply_to: str
    case_reference: str
    priority: Priority
    handling_code: HandlingCode
    deadline_ms: int
    payload_nonce: bytes
    workflow_step: int = 0

    @property
    def message_id_hex(self) -> str:
        return self.message_id.hex()

    @property
    def recipient_offices(self) -> tuple[str, ...]:
        return tuple(r.office_id for r in self.recipients)

    @classmethod
    def _from_pb(cls, h: envelope_pb2.EnvelopeHeader) -> Header:
        if len(h.message_id) != 16:
            raise Malformed("message id must be 16 bytes")
        if len(h.payload_nonce) != 12:
            raise Malformed("payload nonce must be 12 bytes")
        try:
            mtype = MessageType(h.message_type)
            priority = Priority(h.priority)
            handling = HandlingCode(h.handling_code)
        except ValueError as e:
            raise Malformed(f"header holds an unknown enum value: {e}") from e
        if not 0 < len(h.recipients) <= MAX_RECIPIENTS:
            raise Malformed(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients")
        recips = []
        for r in h.recipients:
            if len(r.ephemeral_public_key) != 32 or len(r.wrapped_key) != 48:
                raise Malformed("recipient key entry has wrong lengths")
            recips.append(Recipient(r.office_id, r.key_id, r.ephemeral_public_key, r.wrapped_key))
        if len({r.office_id for r in recips}) != len(recips):
            raise Malformed("a recipient office is listed twice")
        _check_fields(h)
        return cls(h.message_id, mtype, h.sender, tuple(recips), h.created_at_ms,
                   h.expires_at_ms, h.in_reply_to, h.case_reference, priority, handling,
                   h.deadline_ms, h.payload_nonce, h.workflow_step)


def _office(value: str, what: str) -> None:
    if len(value) > MAX_OFFICE_ID or not _OFFICE_ID.fullmatch(value):
        raise Malformed(f"{what} must be an office id of at most {MAX_OFFICE_ID} characters "
                        "(a-z, 0-9, '.', '-')")


def _check_fields(h: envelope_pb2.EnvelopeHeader) -> None:
    """Every header field within the limits the store uses (see the constants above)."""
    _office(h.sender, "sender")
    for r in h.recipients:
        _office(r.office_id, "recipient office")
        if not 0 < len(r.key_id) <= MAX_KEY_ID or not r.key_id.isascii():
            raise Malformed(f"recipient key id must be 1 to {MAX_KEY_ID} ASCII characters")
    if h.in_reply_to and not _MESSAGE_ID_HEX.fullmatch(h.in_reply_to):
        raise Malformed("in_reply_to must be a message id: 32 lower-case hex digits")
    if len(h.case_reference) > MAX_CASE_REFERENCE:
        raise Malformed(f"case_reference is {len(h.case_reference)} characters; "
                        f"at most {MAX_CASE_REFERENCE} are allowed")
    for name in ("created_at_ms", "expires_at_ms", "deadline_ms"):
        if not 0 <= getattr(h, name) < MAX_TIME_MS:
            raise Malformed(f"{name} must be Unix milliseconds between 0 and 2^62")
    if h.workflow_step > MAX_WORKFLOW_STEP:
        raise Malformed(f"workflow_step must be at most {MAX_WORKFLOW_STEP}")


@dataclass(frozen=True)
class VerifiedEnvelope:
    """An envelope whose signature, signer key and expiry have been checked."""

    raw: bytes = field(repr=False)
    header: Header
    signer_key_id: str
    header_bytes: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.raw).digest()


@dataclass(frozen=True)
class _Frame:
    suite: int
    key_id: str
    header: bytes
    ciphertext: bytes
    signed_part: bytes
    signature: bytes


def _parse_frame(data: bytes, max_size: int) -> _Frame:
    if len(data) > max_size:
        raise PayloadTooLarge(f"envelope is {len(data)} bytes; the limit is {max_size}")
    if len(data) < _PREFIX.size:
        raise Malformed("envelope is truncated")
    magic, version, suite, kid_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise Malformed("not a BLO envelope (bad magic)")
    if version != VERSION:
        raise UnsupportedVersion(f"envelope version {version} is not supported (want {VERSION})")
    if suite not in SUITES:
        raise UnsupportedVersion(f"algorithm suite {suite} is not supported")
    pos = _PREFIX.size
    key_id_b = data[pos : pos + kid_len]
    pos += kid_len
    if len(data) < pos + _U32.size:
        raise Malformed("envelope is truncated")
    (hlen,) = _U32.unpack_from(data, pos)
    pos += _U32.size
    if hlen > MAX_HEADER_BYTES:
        raise PayloadTooLarge(f"header is {hlen} bytes; the limit is {MAX_HEADER_BYTES}")
    header = data[pos : pos + hlen]
    pos += hlen
    if len(data) < pos + _U32.size:
        raise Malformed("envelope is truncated")
    (clen,) = _U32.unpack_from(data, pos)
    pos += _U32.size
    if clen < TAG_LEN:
        raise Malformed(f"ciphertext is {clen} bytes, shorter than its {TAG_LEN}-byte tag")
    ciphertext = data[pos : pos + clen]
    pos += clen
    if len(key_id_b) != kid_len or len(header) != hlen or len(ciphertext) != clen:
        raise Malformed("envelope is truncated")
    if len(data) != pos + SIG_LEN:
        raise Malformed("envelope length does not match its framing (truncated or trailing bytes)")
    try:
        key_id = key_id_b.decode("ascii")
    except UnicodeDecodeError as e:
        raise Malformed("signer key id is not ASCII") from e
    return _Frame(suite, key_id, header, ciphertext, data[:pos], data[pos:])


def peek_signer(data: bytes, *, max_size: int = MAX_ENVELOPE_BYTES) -> str:
    """The signer key id from the framing, before any verification (for routing only)."""
    return _parse_frame(data, max_size).key_id


def verify(data: bytes, directory: Directory, *, now_ms: int,
           max_size: int = MAX_ENVELOPE_BYTES) -> VerifiedEnvelope:
    """Check an envelope at reception, ``now_ms`` being the receiver's clock; raises a
    ``GatewayError`` subclass.

    The signer key must be known and not revoked (whatever the creation time claimed: a
    stolen key can backdate), and valid at the envelope's signed ``created_at_ms``, which
    must not be ahead of ``now_ms`` by more than the skew window; the envelope must not
    have expired at ``now_ms``, nor claim a lifetime longer than ``MAX_LIFETIME_MS``."""
    return _verify(data, directory, now_ms=now_ms, received_at_ms=None, max_size=max_size)


def verify_stored(data: bytes, directory: Directory, *, received_at_ms: int,
                  max_size: int = MAX_ENVELOPE_BYTES) -> VerifiedEnvelope:
    """Re-verify an envelope this gateway stored at ``received_at_ms`` (by its own clock).

    Every check of ``verify`` is made as of ``received_at_ms``, so an envelope stays
    verifiable after its signer key or the envelope itself has expired; a revocation
    dated after ``received_at_ms`` does not apply, one dated at or before it does."""
    return _verify(data, directory, now_ms=received_at_ms, received_at_ms=received_at_ms,
                   max_size=max_size)


def _verify(data: bytes, directory: Directory, *, now_ms: int, received_at_ms: int | None,
            max_size: int) -> VerifiedEnvelope:
    frame = _parse_frame(data, max_size)
    key = directory.lookup(frame.key_id, algorithm=ED25519, received_at_ms=received_at_ms)
    try:
        nacl.signing.VerifyKey(key.public_key).verify(SIGN_DOMAIN + frame.signed_part,
                                                      frame.signature)
    except nacl.exceptions.BadSignatureError as e:
        raise BadSignature("envelope signature does not verify") from e
    # Only now are the header bytes parsed.
    pbh = envelope_pb2.EnvelopeHeader()
    try:
        pbh.ParseFromString(frame.header)
    except DecodeError as e:
        raise Malformed("signed header is not a valid EnvelopeHeader") from e
    header = Header._from_pb(pbh)
    if header.sender != key.office_id:
        raise BadSignature(
            f"envelope claims sender {header.sender!r} but is signed by {key.office_id}'s key")
    # The key's validity is judged at the signed creation time, so that what was signed
    # while the key was valid stays verifiable; the creation time itself is judged against
    # the receiver's clock.
    directory.check_validity(key, header.created_at_ms)
    if header.created_at_ms > now_ms + ALLOWED_SKEW_MS:
        raise Expired(f"message {header.message_id_hex} is dated in the future")
    if header.expires_at_ms <= now_ms:
        raise Expired(f"message {header.message_id_hex} expired")
    if header.expires_at_ms - header.created_at_ms > MAX_LIFETIME_MS:
        raise Expired(f"message {header.message_id_hex} claims a lifetime longer than "
                      f"{MAX_LIFETIME_MS // 86_400_000} days")
    return VerifiedEnvelope(data, header, frame.key_id, frame.header, frame.ciphertext)


def seal(payload: Payload, *, sender: Keyring, recipients: Sequence[str], directory: Directory,
         now_ms: int, ttl_ms: int = DEFAULT_TTL_MS, message_id: bytes | None = None,
         rng: Random = nacl.utils.random) -> bytes:
    """Encrypt ``payload`` to each recipient office and sign it as ``sender``."""
    return seal_with_header(payload, sender=sender, recipients=recipients, directory=directory,
                            now_ms=now_ms, ttl_ms=ttl_ms, message_id=message_id, rng=rng)[0]


def seal_with_header(payload: Payload, *, sender: Keyring, recipients: Sequence[str],
                     directory: Directory, now_ms: int, ttl_ms: int = DEFAULT_TTL_MS,
                     message_id: bytes | None = None,
                     rng: Random = nacl.utils.random) -> tuple[bytes, Header]:
    """``seal``, also returning the header it wrote (the sender's own, trusted metadata)."""
    if not recipients or len(recipients) > MAX_RECIPIENTS or len(set(recipients)) != len(
            recipients):
        raise Malformed(f"give 1 to {MAX_RECIPIENTS} distinct recipient offices")
    if not 0 < ttl_ms <= MAX_LIFETIME_MS:
        raise Malformed(f"an envelope's lifetime must be 1 ms to {MAX_LIFETIME_MS} ms")
    plaintext = payload.to_bytes()
    mid = message_id if message_id is not None else rng(16)
    if len(mid) != 16:
        raise Malformed("message id must be 16 bytes")
    content_key = rng(32)
    recips = [_wrap(content_key, mid, directory, office, now_ms, rng) for office in recipients]
    ctx = payload.context
    pbh = envelope_pb2.EnvelopeHeader(
        message_id=mid,
        message_type=envelope_pb2.MessageType.Name(payload.message_type), sender=sender.office_id,
        recipients=recips, created_at_ms=now_ms, expires_at_ms=now_ms + ttl_ms,
        in_reply_to=ctx.in_reply_to, case_reference=ctx.case_reference,
        priority=common_pb2.Priority.Name(ctx.priority),
        handling_code=common_pb2.HandlingCode.Name(ctx.handling_code),
        deadline_ms=ctx.deadline_ms, payload_nonce=rng(12),
        workflow_step=payload.workflow_step,
    )
    checked = Header._from_pb(pbh)  # the same limits the receiver applies, before signing
    header = pbh.SerializeToString(deterministic=True)
    if len(header) > MAX_HEADER_BYTES:
        raise PayloadTooLarge("header too large")
    ciphertext = ChaCha20Poly1305(content_key).encrypt(pbh.payload_nonce, plaintext,
                                                        AAD_DOMAIN + header)
    sk = sender.signing_key(now_ms)
    kid = sk.key_id.encode("ascii")
    body = (_PREFIX.pack(MAGIC, VERSION, SUITE_ED25519_X25519_CHACHA20POLY1305, len(kid)) + kid
            + _U32.pack(len(header)) + header + _U32.pack(len(ciphertext)) + ciphertext)
    sig = sk.signer.sign(SIGN_DOMAIN + body).signature
    out = body + sig
    if len(out) > MAX_ENVELOPE_BYTES:
        raise PayloadTooLarge(f"sealed envelope would be {len(out)} bytes")
    return out, checked


def open_envelope(env: VerifiedEnvelope, keyring: Keyring) -> Payload:
    """Decrypt and parse the payload; only a recipient office's keyring can."""
    return open_with_plaintext(env, keyring)[0]


def open_with_plaintext(env: VerifiedEnvelope, keyring: Keyring) -> tuple[Payload, bytes]:
    """``open_envelope``, also returning the exact decrypted bytes (for signing a record)."""
    h = env.header
    mine = next((r for r in h.recipients if r.office_id == keyring.office_id), None)
    if mine is None:
        raise NotARecipient(f"{keyring.office_id} is not a recipient of {h.message_id_hex}")
    key = keyring.encryption_key(mine.key_id)
    if key is None:
        raise NotARecipient(f"{keyring.office_id} does not hold key {mine.key_id}")
    kek = _kek(key.secret, mine.ephemeral_public_key, key.public_key, h.message_id, mine.key_id)
    try:
        content_key = ChaCha20Poly1305(kek).decrypt(_ZERO_NONCE, mine.wrapped_key, h.message_id)
        plaintext = ChaCha20Poly1305(content_key).decrypt(h.payload_nonce, env.ciphertext,
                                                          AAD_DOMAIN + env.header_bytes)
    except InvalidTag as e:
        raise DecryptionFailed(f"cannot decrypt {h.message_id_hex}") from e
    payload = Payload.from_bytes(plaintext)
    if payload.message_type != h.message_type:
        raise Malformed("payload type differs from the header's message type")
    ctx = payload.context
    mirrored = (ctx.case_reference, ctx.in_reply_to, ctx.priority, ctx.handling_code,
                ctx.deadline_ms, payload.workflow_step)
    if mirrored != (h.case_reference, h.in_reply_to, h.priority, h.handling_code, h.deadline_ms,
                    h.workflow_step):
        raise Malformed("payload context differs from the envelope header")
    return payload, plaintext


def _wrap(content_key: bytes, message_id: bytes, directory: Directory, office_id: str,
          now_ms: int, rng: Random) -> envelope_pb2.RecipientKey:
    rkey = directory.encryption_key(office_id, now_ms)
    eph = rng(32)
    eph_pub = nacl.bindings.crypto_scalarmult_base(eph)
    kek = _kek(eph, rkey.public_key, rkey.public_key, message_id, rkey.key_id, eph_pub)
    wrapped = ChaCha20Poly1305(kek).encrypt(_ZERO_NONCE, content_key, message_id)
    return envelope_pb2.RecipientKey(office_id=office_id, key_id=rkey.key_id,
                                     ephemeral_public_key=eph_pub, wrapped_key=wrapped)


def _kek(own_secret: bytes, peer_public: bytes, recipient_public: bytes, message_id: bytes,
         recipient_key_id: str, ephemeral_public: bytes | None = None) -> bytes:
    """KEK = HKDF-SHA256(X25519(own, peer), info = domain‖id‖kid‖eph_pk‖recipient_pk)."""
    try:
        shared = nacl.bindings.crypto_scalarmult(own_secret, peer_public)
    except nacl.exceptions.RuntimeError as e:  # libsodium refuses an all-zero shared secret
        raise DecryptionFailed("invalid ephemeral or recipient key") from e
    eph = ephemeral_public if ephemeral_public is not None else peer_public
    kid = recipient_key_id.encode("ascii")
    info = WRAP_DOMAIN + message_id + bytes([len(kid)]) + kid + eph + recipient_public
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)
