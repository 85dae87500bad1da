"""The signed, encrypted envelope: seal, verify, open. No I/O.

Wire layout (docs/wire-format.md is the normative text)::

    "BLOE" | version u8 | suite u8 | kid_len u8 | signer key id
           | header_len u32be | header | ct_len u32be | ciphertext | signature[64]

    version 2 / suite 2 (post-quantum hybrid, docs/wire-format.md §14):
    "BLOE" | 0x02 | 0x02 | kid_len u8 | Ed25519 key id | pq_kid_len u8 | ML-DSA-65 key id
           | header_len u32be | header | ct_len u32be | ciphertext
           | Ed25519 signature[64] | ML-DSA-65 signature[3309]

Suite 1: Ed25519 signature over ``SIGN_DOMAIN ‖ every byte before the signature``;
payload under ChaCha20-Poly1305 (RFC 8439) with a fresh 32-byte content key and
``AAD_DOMAIN ‖ header`` as associated data; the content key wrapped for each
recipient: X25519 with an ephemeral key → HKDF-SHA256 → ChaCha20-Poly1305.
Suite 2: the same, with ``…/v2`` domains, both an Ed25519 and an ML-DSA-65 signature
(both must verify, by keys of the one sender office), and the content key wrapped by HPKE
(RFC 9180 Base mode, ML-KEM-768 + X25519, HKDF-SHA256, ChaCha20-Poly1305). ``seal`` uses
the highest suite that the sender and every recipient accept (``Directory.required_suite``);
``check_downgrade`` is the receiver's side of that rule.

Opening order is part of the security contract: size limit, framing, signer
key from the directory (known, unrevoked), signature over the exact bytes, and
only then the protobuf header is parsed; the key must have been valid at the
header's signed creation time, which must not be in the receiver's future; the
payload is decrypted and parsed last, and only by a recipient office.
``verify`` is for reception (the receiver's clock); ``verify_stored`` re-verifies
what this gateway stored, as of when it stored it.

Under 600 lines on purpose: the opening order above is the security contract, kept
in one file so that it reads top to bottom.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError

from gateway.protocol.errors import (
    BadSignature,
    DecryptionFailed,
    Downgrade,
    Expired,
    Malformed,
    NotARecipient,
    NotYetValid,
    PayloadTooLarge,
    UnsupportedVersion,
)
from gateway.protocol.hybrid import MLDSA65_SIG_LEN, HybridSignature
from gateway.protocol.hybrid import verify as verify_hybrid
from gateway.protocol.identity import (
    ED25519,
    ML_DSA_65,
    ML_KEM_768_X25519,
    SUITE_1,
    SUITE_2,
    X25519,
    Directory,
    KeyInfo,
    Keyring,
)
from gateway.protocol.messages import HandlingCode, MessageType, Payload, Priority
from gateway.schemas.blo.v1 import common_pb2, envelope_pb2

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "MAX_LIFETIME_MS",
    "SUITE_ED25519_X25519_CHACHA20POLY1305",
    "SUITE_HYBRID_MLDSA65_MLKEM768X25519",
    "Header",
    "Recipient",
    "VerifiedEnvelope",
    "check_downgrade",
    "open_envelope",
    "open_with_plaintext",
    "peek_signer",
    "seal",
    "seal_with_header",
    "suite_of",
    "verify",
    "verify_stored",
]

MAGIC = b"BLOE"
#: how long after a pair of offices moved to suite 2 a suite-1 envelope sealed before the
#: move is still accepted (``check_downgrade``)
DOWNGRADE_GRACE_MS = 7 * 24 * 3600 * 1000
VERSION = 1
VERSION_2 = 2
SUITE_ED25519_X25519_CHACHA20POLY1305 = SUITE_1
SUITE_HYBRID_MLDSA65_MLKEM768X25519 = SUITE_2
#: suite → the one framing version that carries it
SUITES = {SUITE_1: VERSION, SUITE_2: VERSION_2}
SUITE_NAMES = {SUITE_1: "Ed25519 / X25519-HKDF-SHA256 / ChaCha20-Poly1305",
               SUITE_2: "Ed25519+ML-DSA-65 / HPKE ML-KEM-768+X25519 / ChaCha20-Poly1305"}
SIGN_DOMAIN = b"blo-gateway/envelope/v1\x00"
AAD_DOMAIN = b"blo-gateway/payload/v1\x00"
WRAP_DOMAIN = b"blo-gateway/wrap/v1\x00"
SIGN_DOMAIN_V2 = b"blo-gateway/envelope/v2\x00"
AAD_DOMAIN_V2 = b"blo-gateway/payload/v2\x00"
WRAP_DOMAIN_V2 = b"blo-gateway/wrap/v2\x00"
HPKE_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256,
                        hpke.AEAD.CHACHA20_POLY1305)
#: enc (1088-byte ML-KEM-768 ciphertext ‖ 32-byte X25519 ephemeral key) ‖ 32-byte key + tag
HPKE_ENCAPSULATED_LEN = 1120 + 32 + 16
MLKEM768_PUBLIC_LEN = 1184
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
_PREFIX = struct.Struct(">4sBBB")  # magic, version, suite, first key id's length
_U32 = struct.Struct(">I")
_ZERO_NONCE = bytes(12)
SIG_LEN = 64
SIG_LENS = {SUITE_1: SIG_LEN, SUITE_2: SIG_LEN + MLDSA65_SIG_LEN}
SIGN_DOMAINS = {SUITE_1: SIGN_DOMAIN, SUITE_2: SIGN_DOMAIN_V2}
AAD_DOMAINS = {SUITE_1: AAD_DOMAIN, SUITE_2: AAD_DOMAIN_V2}

Random = Callable[[int], bytes]


@dataclass(frozen=True)
class Recipient:
    office_id: str
    key_id: str
    ephemeral_public_key: bytes  # suite 1
    wrapped_key: bytes  # suite 1
    hpke_encapsulated: bytes = b""  # suite 2: enc ‖ ct


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

    @cached_property
    def recipient_offices(self) -> tuple[str, ...]:
        return tuple(r.office_id for r in self.recipients)

    @classmethod
    def _from_pb(cls, h: envelope_pb2.EnvelopeHeader, suite: int) -> Header:
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
            if suite == SUITE_1:
                ok = (len(r.ephemeral_public_key) == 32 and len(r.wrapped_key) == 48
                      and not r.hpke_encapsulated and r.key_id.startswith(X25519 + ":"))
            else:
                ok = (len(r.hpke_encapsulated) == HPKE_ENCAPSULATED_LEN
                      and not r.ephemeral_public_key and not r.wrapped_key
                      and r.key_id.startswith(ML_KEM_768_X25519 + ":"))
            if not ok:
                raise Malformed(f"recipient key entry does not fit suite {suite}")
            recips.append(Recipient(r.office_id, r.key_id, r.ephemeral_public_key, r.wrapped_key,
                                    r.hpke_encapsulated))
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
    suite: int = SUITE_1
    #: the ML-DSA-65 signer key id (suite 2), else ""
    pq_signer_key_id: str = ""

    @cached_property
    def sha256(self) -> bytes:
        """SHA-256 of the exact envelope bytes (computed once: read several times each)."""
        return hashlib.sha256(self.raw).digest()


@dataclass(frozen=True)
class _Frame:
    suite: int
    key_id: str
    header: bytes
    ciphertext: bytes
    signed_part: bytes
    signature: bytes  # suite 2: the Ed25519 signature ‖ the ML-DSA-65 signature
    pq_key_id: str = ""


def suite_of(data: bytes) -> int:
    """The suite an envelope's framing names (after its magic), unverified: for choosing
    which receipt to sign or expect; ``MALFORMED`` if it is not an envelope."""
    if len(data) < _PREFIX.size or data[:4] != MAGIC:
        raise Malformed("not a BLO envelope")
    return data[5]


def _parse_frame(data: bytes, max_size: int) -> _Frame:
    if len(data) > max_size:
        raise PayloadTooLarge(f"envelope is {len(data)} bytes; the limit is {max_size}")
    if len(data) < _PREFIX.size:
        raise Malformed("envelope is truncated")
    magic, version, suite, kid_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise Malformed("not a BLO envelope (bad magic)")
    if version not in SUITES.values():
        raise UnsupportedVersion(f"envelope version {version} is not supported")
    if SUITES.get(suite) != version:
        raise UnsupportedVersion(f"algorithm suite {suite} is not supported in envelope "
                                 f"version {version}")
    pos = _PREFIX.size
    key_id_b = data[pos : pos + kid_len]
    pos += kid_len
    pq_key_id_b = b""
    if suite == SUITE_2:
        if len(data) <= pos:
            raise Malformed("envelope is truncated")
        pq_len = data[pos]
        pq_key_id_b = data[pos + 1 : pos + 1 + pq_len]
        if len(pq_key_id_b) != pq_len:
            raise Malformed("envelope is truncated")
        pos += 1 + pq_len
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
    if len(data) != pos + SIG_LENS[suite]:
        raise Malformed("envelope length does not match its framing (truncated or trailing bytes)")
    try:
        key_id = key_id_b.decode("ascii")
        pq_key_id = pq_key_id_b.decode("ascii")
    except UnicodeDecodeError as e:
        raise Malformed("signer key id is not ASCII") from e
    return _Frame(suite, key_id, header, ciphertext, data[:pos], data[pos:], pq_key_id)


def peek_signer(data: bytes, *, max_size: int = MAX_ENVELOPE_BYTES) -> str:
    """The (Ed25519) signer key id from the framing, before any verification (for routing
    only)."""
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
    pq_key: KeyInfo | None = None
    if frame.suite == SUITE_2:
        pq_key = directory.lookup(frame.pq_key_id, algorithm=ML_DSA_65,
                                  received_at_ms=received_at_ms)
        if pq_key.office_id != key.office_id:
            raise BadSignature("the envelope's two signer keys belong to different offices")
        sig = HybridSignature(frame.key_id, frame.signature[:SIG_LEN], frame.pq_key_id,
                              frame.signature[SIG_LEN:])
        verify_hybrid(key, pq_key, sig, SIGN_DOMAIN_V2 + frame.signed_part)
    else:
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
    header = Header._from_pb(pbh, frame.suite)
    if header.sender != key.office_id:
        raise BadSignature(
            f"envelope claims sender {header.sender!r} but is signed by {key.office_id}'s key")
    # The key's validity is judged at the signed creation time, so that what was signed
    # while the key was valid stays verifiable; the creation time itself is judged against
    # the receiver's clock.
    directory.check_validity(key, header.created_at_ms)
    if pq_key is not None:
        directory.check_validity(pq_key, header.created_at_ms)
    if header.created_at_ms > now_ms + ALLOWED_SKEW_MS:
        raise NotYetValid(f"message {header.message_id_hex} is dated "
                          f"{(header.created_at_ms - now_ms) // 1000} s ahead of this "
                          "gateway's clock; it is taken once that is less than "
                          f"{ALLOWED_SKEW_MS // 60_000} minutes")
    if header.expires_at_ms <= now_ms:
        raise Expired(f"message {header.message_id_hex} expired")
    if header.expires_at_ms - header.created_at_ms > MAX_LIFETIME_MS:
        raise Expired(f"message {header.message_id_hex} claims a lifetime longer than "
                      f"{MAX_LIFETIME_MS // 86_400_000} days")
    return VerifiedEnvelope(data, header, frame.key_id, frame.header, frame.ciphertext,
                            frame.suite, frame.pq_key_id)


def check_downgrade(env: VerifiedEnvelope, directory: Directory, *,
                    upgraded_at: Mapping[str, int] | None = None, now_ms: int = 0) -> None:
    """The receiver's rule (docs/wire-format.md §14): an envelope must use the suite that its
    sender and every recipient accept (``Directory.required_suite``); a lower one is
    ``DOWNGRADE``. For reception only, after ``verify``: stored envelopes are re-verified
    without it (``verify_stored``), so what was stored before an upgrade stays readable.
    Recipient offices the directory no longer lists do not count.

    ``upgraded_at``: for each office, when this gateway accepted (its own clock) the first
    directory that lists it with suite 2. An envelope sealed (signed ``created_at_ms``)
    before the last of its offices moved to suite 2 here, or within the allowed clock skew
    after (its sender may have learnt of the move a little later), was sealed rightly in
    suite 1: it is accepted for ``DOWNGRADE_GRACE_MS`` after that move, so what was queued
    at the switch is delivered, not dead-lettered (§14.3). Later, or sealed later: refused."""
    h = env.header
    listed = [o for o in h.recipient_offices if o in directory.offices]
    required = directory.required_suite(h.sender, *listed)
    if env.suite >= required:
        return
    if upgraded_at is not None:
        moved = [upgraded_at.get(o) for o in (h.sender, *listed)]
        if all(t is not None for t in moved):
            switch = max(t for t in moved if t is not None)
            if (h.created_at_ms < switch + ALLOWED_SKEW_MS
                    and now_ms < switch + DOWNGRADE_GRACE_MS):
                return
    raise Downgrade(f"message {h.message_id_hex} uses suite {env.suite}, but "
                    f"{h.sender} and its recipients all accept suite {required}")


def seal(payload: Payload, *, sender: Keyring, recipients: Sequence[str], directory: Directory,
         now_ms: int, ttl_ms: int = DEFAULT_TTL_MS, message_id: bytes | None = None,
         rng: Random = nacl.utils.random, suite: int | None = None) -> bytes:
    """Encrypt ``payload`` to each recipient office and sign it as ``sender``, in the suite
    that the sender and every recipient accept (``suite``: another, for tests and vectors).

    In suite 2 ``rng`` still draws the message id, content key and nonce, but the HPKE
    encapsulation and the ML-DSA-65 signature take fresh randomness of their own: a
    suite-2 envelope cannot be reproduced byte for byte."""
    return seal_with_header(payload, sender=sender, recipients=recipients, directory=directory,
                            now_ms=now_ms, ttl_ms=ttl_ms, message_id=message_id, rng=rng,
                            suite=suite)[0]


def seal_with_header(payload: Payload, *, sender: Keyring, recipients: Sequence[str],
                     directory: Directory, now_ms: int, ttl_ms: int = DEFAULT_TTL_MS,
                     message_id: bytes | None = None, rng: Random = nacl.utils.random,
                     suite: int | None = None) -> tuple[bytes, Header]:
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
    if suite is None:
        suite = directory.required_suite(sender.office_id, *recipients)
    if suite not in SUITES:
        raise UnsupportedVersion(f"algorithm suite {suite} is not supported")
    content_key = rng(32)
    recips = [_wrap(content_key, mid, directory, office, now_ms, rng) if suite == SUITE_1
              else _wrap_hpke(content_key, mid, directory, office, now_ms)
              for office in recipients]
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
    checked = Header._from_pb(pbh, suite)  # the receiver's limits, before signing
    header = pbh.SerializeToString(deterministic=True)
    if len(header) > MAX_HEADER_BYTES:
        raise PayloadTooLarge("header too large")
    ciphertext = ChaCha20Poly1305(content_key).encrypt(pbh.payload_nonce, plaintext,
                                                        AAD_DOMAINS[suite] + header)
    sk = sender.signing_key(now_ms)
    kid = sk.key_id.encode("ascii")
    kids = kid
    if suite == SUITE_2:
        pq = sender.pq_signing_key(now_ms)
        pq_kid = pq.key_id.encode("ascii")
        kids += bytes([len(pq_kid)]) + pq_kid
    body = (_PREFIX.pack(MAGIC, SUITES[suite], suite, len(kid)) + kids
            + _U32.pack(len(header)) + header + _U32.pack(len(ciphertext)) + ciphertext)
    signed = SIGN_DOMAINS[suite] + body
    sig = sk.signer.sign(signed).signature
    if suite == SUITE_2:
        sig += pq.pq_signer.sign(signed)
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
    key = (keyring.encryption_key(mine.key_id) if env.suite == SUITE_1
           else keyring.encryption_key(mine.key_id, ML_KEM_768_X25519))
    if key is None:
        raise NotARecipient(f"{keyring.office_id} does not hold key {mine.key_id}")
    try:
        if env.suite == SUITE_1:
            kek = _kek(key.secret, mine.ephemeral_public_key, key.public_key, h.message_id,
                       mine.key_id)
            content_key = ChaCha20Poly1305(kek).decrypt(_ZERO_NONCE, mine.wrapped_key,
                                                        h.message_id)
        else:
            content_key = HPKE_SUITE.decrypt(mine.hpke_encapsulated, key.kem_private,
                                             info=_hpke_info(h.message_id, mine.key_id))
        plaintext = ChaCha20Poly1305(content_key).decrypt(h.payload_nonce, env.ciphertext,
                                                          AAD_DOMAINS[env.suite]
                                                          + env.header_bytes)
    except (InvalidTag, ValueError) as e:
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


def _hpke_info(message_id: bytes, recipient_key_id: str) -> bytes:
    kid = recipient_key_id.encode("ascii")
    return WRAP_DOMAIN_V2 + message_id + bytes([len(kid)]) + kid


def _wrap_hpke(content_key: bytes, message_id: bytes, directory: Directory, office_id: str,
               now_ms: int) -> envelope_pb2.RecipientKey:
    """Suite 2: HPKE Base mode single-shot to the office's newest hybrid KEM key."""
    rkey = directory.encryption_key(office_id, now_ms, ML_KEM_768_X25519)
    pk = rkey.public_key
    public = hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(pk[:MLKEM768_PUBLIC_LEN]),
        x25519.X25519PublicKey.from_public_bytes(pk[MLKEM768_PUBLIC_LEN:]))
    enc = HPKE_SUITE.encrypt(content_key, public, info=_hpke_info(message_id, rkey.key_id))
    return envelope_pb2.RecipientKey(office_id=office_id, key_id=rkey.key_id,
                                     hpke_encapsulated=enc)


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
