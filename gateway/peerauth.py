"""Authentication of gateway-to-gateway HTTP requests.

The sending gateway signs, with its office's Ed25519 key::

    "blo-gateway/request/v1\\0" ‖ METHOD ‖ "\\n" ‖ path?query ‖ "\\n" ‖ origin ‖ "\\n"
        ‖ destination ‖ "\\n" ‖ timestamp_ms ‖ "\\n" ‖ nonce ‖ "\\n" ‖ hex(SHA-256(body))

and sends it in headers (``BLO-Origin``, ``BLO-Destination``, ``BLO-Timestamp``,
``BLO-Nonce``, ``BLO-Key-Id``, ``BLO-Signature``). The receiver checks, in this
order: headers present and well-formed; destination is itself; the key belongs
to the origin and is valid; the timestamp is within the allowed skew; the
signature; and last that the nonce has not been seen within the skew window
(the caller records nonces durably). See docs/wire-format.md §11.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
import nacl.utils

from gateway.errors import BadSignature, Expired, Unauthorized, WrongDestination
from gateway.identity import ED25519, Directory, Keyring

__all__ = ["HEADERS", "AuthenticatedRequest", "sign_request", "verify_request"]

REQUEST_DOMAIN = b"blo-gateway/request/v1\x00"
HEADERS = ("BLO-Origin", "BLO-Destination", "BLO-Timestamp", "BLO-Nonce", "BLO-Key-Id",
           "BLO-Signature")
_NONCE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class AuthenticatedRequest:
    origin: str
    key_id: str
    timestamp_ms: int
    nonce: str


def _message(method: str, path_qs: str, origin: str, destination: str, ts: str, nonce: str,
             body: bytes) -> bytes:
    parts = [method.upper(), path_qs, origin, destination, ts, nonce,
             hashlib.sha256(body).hexdigest()]
    return REQUEST_DOMAIN + "\n".join(parts).encode("utf-8")


def sign_request(keyring: Keyring, *, method: str, path_qs: str, destination: str, body: bytes,
                 now_ms: int) -> dict[str, str]:
    """Headers that authenticate one request from our office to ``destination``."""
    key = keyring.signing_key(now_ms)
    nonce = nacl.utils.random(16).hex()
    ts = str(now_ms)
    sig = key.signer.sign(_message(method, path_qs, keyring.office_id, destination, ts, nonce,
                                   body)).signature
    return {"BLO-Origin": keyring.office_id, "BLO-Destination": destination, "BLO-Timestamp": ts,
            "BLO-Nonce": nonce, "BLO-Key-Id": key.key_id,
            "BLO-Signature": base64.b64encode(sig).decode("ascii")}


def verify_request(headers: Mapping[str, str], *, method: str, path_qs: str, body: bytes,
                   directory: Directory, me: str, now_ms: int,
                   max_skew_ms: int) -> AuthenticatedRequest:
    """Check a request's signature headers; the nonce check is the caller's (it needs storage)."""
    values = {h: headers.get(h, "") for h in HEADERS}
    missing = [h for h, v in values.items() if not v]
    if missing:
        raise Unauthorized(f"missing authentication headers: {', '.join(missing)}")
    if values["BLO-Destination"] != me:
        raise WrongDestination(f"this gateway is {me}, not {values['BLO-Destination']}")
    origin = values["BLO-Origin"]
    key = directory.key(values["BLO-Key-Id"], algorithm=ED25519, at_ms=now_ms)
    if key.office_id != origin:
        raise BadSignature(f"key {key.key_id} does not belong to {origin}")
    ts = values["BLO-Timestamp"]
    if not ts.isdigit() or len(ts) > 15:
        raise Unauthorized("BLO-Timestamp must be Unix milliseconds")
    if abs(int(ts) - now_ms) > max_skew_ms:
        raise Expired(f"request time differs from ours by {abs(int(ts) - now_ms)} ms "
                      f"(allowed {max_skew_ms}); check the clocks")
    nonce = values["BLO-Nonce"]
    if not _NONCE.match(nonce):
        raise Unauthorized("BLO-Nonce must be 32 lower-case hex digits")
    try:
        sig = base64.b64decode(values["BLO-Signature"], validate=True)
        nacl.signing.VerifyKey(key.public_key).verify(
            _message(method, path_qs, origin, me, ts, nonce, body), sig)
    except (binascii.Error, ValueError, nacl.exceptions.BadSignatureError) as e:
        raise BadSignature("request signature does not verify") from e
    return AuthenticatedRequest(origin, key.key_id, int(ts), nonce)
