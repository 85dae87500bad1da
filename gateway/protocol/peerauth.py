"""Authentication of gateway-to-gateway HTTP requests.

The sending gateway signs, with its office's Ed25519 key::

    "blo-gateway/request/v1\\0" ‖ METHOD ‖ "\\n" ‖ path?query ‖ "\\n" ‖ origin ‖ "\\n"
        ‖ destination ‖ "\\n" ‖ timestamp_ms ‖ "\\n" ‖ nonce ‖ "\\n" ‖ hex(SHA-256(body))

and sends it in headers (``BLO-Origin``, ``BLO-Destination``, ``BLO-Timestamp``,
``BLO-Nonce``, ``BLO-Key-Id``, ``BLO-Signature``), plus ``BLO-Body-SHA256``: the same
hex digest that is signed. With it the receiver authenticates a request from its
headers alone and reads the body only afterwards, hashing it as it streams and
refusing it if it differs from the signed digest (``check_headers`` then
``check_body``); without it (older senders) the receiver must read the body first,
which it does only within a small budget for unauthenticated work.

The receiver checks, in this order: headers present and well-formed (strictly:
ASCII digits, lower-case hex, canonical base64, bounded lengths); destination is
itself; the key belongs to the origin and is valid; the timestamp is within the
allowed skew; the signature; and last that the nonce has not been seen within the
skew window (the caller records nonces durably). See docs/wire-format.md §11.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
import nacl.utils

from gateway.protocol.errors import BadSignature, Expired, Unauthorized, WrongDestination
from gateway.protocol.identity import ED25519, Directory, Keyring

__all__ = ["BODY_HEADER", "HEADERS", "AuthenticatedRequest", "body_digest", "check_body",
           "check_headers", "sign_request", "verify_request"]

REQUEST_DOMAIN = b"blo-gateway/request/v1\x00"
HEADERS = ("BLO-Origin", "BLO-Destination", "BLO-Timestamp", "BLO-Nonce", "BLO-Key-Id",
           "BLO-Signature")
BODY_HEADER = "BLO-Body-SHA256"
_NONCE = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,15}")  # ASCII only: str.isdigit() accepts "²" and "٣"
_B64_SIG = re.compile(r"[A-Za-z0-9+/]{86}==")  # a 64-byte signature, canonical base64
_OFFICE = re.compile(r"[a-z0-9][a-z0-9.\-]{0,63}")
_KEY_ID = re.compile(r"[a-z0-9\-]{1,16}:[0-9a-f]{32}")


@dataclass(frozen=True)
class AuthenticatedRequest:
    origin: str
    key_id: str
    timestamp_ms: int
    nonce: str


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _message(method: str, path_qs: str, origin: str, destination: str, ts: str, nonce: str,
             digest: str) -> bytes:
    parts = [method.upper(), path_qs, origin, destination, ts, nonce, digest]
    return REQUEST_DOMAIN + "\n".join(parts).encode("utf-8")


def sign_request(keyring: Keyring, *, method: str, path_qs: str, destination: str, body: bytes,
                 now_ms: int) -> dict[str, str]:
    """Headers that authenticate one request from our office to ``destination``."""
    key = keyring.signing_key(now_ms)
    nonce = nacl.utils.random(16).hex()
    ts = str(now_ms)
    digest = body_digest(body)
    sig = key.signer.sign(_message(method, path_qs, keyring.office_id, destination, ts, nonce,
                                   digest)).signature
    return {"BLO-Origin": keyring.office_id, "BLO-Destination": destination, "BLO-Timestamp": ts,
            "BLO-Nonce": nonce, "BLO-Key-Id": key.key_id,
            "BLO-Signature": base64.b64encode(sig).decode("ascii"), BODY_HEADER: digest}


def verify_request(headers: Mapping[str, str], *, method: str, path_qs: str, body: bytes,
                   directory: Directory, me: str, now_ms: int,
                   max_skew_ms: int) -> AuthenticatedRequest:
    """Check a request whose body is already read (the digest header, if sent, must match)."""
    digest = body_digest(body)
    claimed = headers.get(BODY_HEADER)
    if claimed is not None and not hmac.compare_digest(claimed.encode("utf-8", "replace"),
                                                       digest.encode("ascii")):
        raise BadSignature("the body does not match its signed digest")
    return check_headers(headers, method=method, path_qs=path_qs, body_sha256=digest,
                         directory=directory, me=me, now_ms=now_ms, max_skew_ms=max_skew_ms)


def check_headers(headers: Mapping[str, str], *, method: str, path_qs: str,
                  body_sha256: str | None, directory: Directory, me: str, now_ms: int,
                  max_skew_ms: int) -> AuthenticatedRequest:
    """Authenticate a request from its headers alone.

    ``body_sha256`` is the hex digest of a body already read, or None to use the
    ``BLO-Body-SHA256`` header (then ``check_body`` must compare the body as it is read).
    The nonce check is the caller's (it needs storage)."""
    values = {h: headers.get(h, "") for h in HEADERS}
    missing = [h for h, v in values.items() if not v]
    if missing:
        raise Unauthorized(f"missing authentication headers: {', '.join(missing)}")
    origin, destination = values["BLO-Origin"], values["BLO-Destination"]
    if not _OFFICE.fullmatch(origin) or not _OFFICE.fullmatch(destination):
        raise Unauthorized("BLO-Origin and BLO-Destination must be office ids")
    if destination != me:
        raise WrongDestination(f"this gateway is {me}, not {destination}")
    ts, nonce = values["BLO-Timestamp"], values["BLO-Nonce"]
    if not _DIGITS.fullmatch(ts):
        raise Unauthorized("BLO-Timestamp must be Unix milliseconds (ASCII digits)")
    if not _NONCE.fullmatch(nonce):
        raise Unauthorized("BLO-Nonce must be 32 lower-case hex digits")
    if not _KEY_ID.fullmatch(values["BLO-Key-Id"]):
        raise Unauthorized("BLO-Key-Id is not a key id")
    if not _B64_SIG.fullmatch(values["BLO-Signature"]):
        raise Unauthorized("BLO-Signature must be the base64 of 64 bytes")
    if body_sha256 is None:
        body_sha256 = headers.get(BODY_HEADER, "")
        if not _HEX64.fullmatch(body_sha256):
            raise Unauthorized(f"{BODY_HEADER} must be 64 lower-case hex digits")
    key = directory.key(values["BLO-Key-Id"], algorithm=ED25519, at_ms=now_ms)
    if key.office_id != origin:
        raise BadSignature(f"key {key.key_id} does not belong to {origin}")
    if abs(int(ts) - now_ms) > max_skew_ms:
        raise Expired(f"request time differs from ours by {abs(int(ts) - now_ms)} ms "
                      f"(allowed {max_skew_ms}); check the clocks")
    try:
        sig = base64.b64decode(values["BLO-Signature"], validate=True)
        nacl.signing.VerifyKey(key.public_key).verify(
            _message(method, path_qs, origin, me, ts, nonce, body_sha256), sig)
    except (binascii.Error, ValueError, nacl.exceptions.BadSignatureError) as e:
        raise BadSignature("request signature does not verify") from e
    return AuthenticatedRequest(origin, key.key_id, int(ts), nonce)


def check_body(headers: Mapping[str, str], digest: str) -> None:
    """After ``check_headers(body_sha256=None)``: the body read must have the signed digest."""
    claimed = headers.get(BODY_HEADER, "").encode("utf-8", "replace")
    if not hmac.compare_digest(claimed, digest.encode("ascii")):
        raise BadSignature("the body does not match its signed digest")
