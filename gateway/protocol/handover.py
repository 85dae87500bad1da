"""The handover record signed by both sides: two Ed25519 signatures over one byte string.

The byte string is the exact decrypted ``Payload`` of the HandoverRecord message. Each
office signs ``RECORD_DOMAIN ‖ those bytes`` and sends its signature to the other in an
Acknowledgement whose ``in_reply_to`` is the record's message id (``record_signature``,
``record_signer_key_id``). Records and these acknowledgements are sealed to the sender too,
so either gateway can later open the record, collect both signatures and verify both
against the directory: a record is *complete* when both offices' signatures verify.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from gateway.protocol.errors import BadSignature
from gateway.protocol.identity import ED25519, Directory, Keyring, fingerprint

__all__ = ["RECORD_DOMAIN", "RecordSignature", "sign_record", "verify_record_signature"]

RECORD_DOMAIN = b"blo-gateway/handover-record/v1\x00"


@dataclass(frozen=True)
class RecordSignature:
    office_id: str
    key_id: str
    fingerprint: str
    verified: bool
    problem: str = ""


def sign_record(keyring: Keyring, record: bytes, now_ms: int) -> tuple[str, bytes]:
    key = keyring.signing_key(now_ms)
    return key.key_id, key.signer.sign(RECORD_DOMAIN + record).signature


def verify_record_signature(directory: Directory, office_id: str, key_id: str,
                            signature: bytes, record: bytes, at_ms: int) -> RecordSignature:
    """Check one office's signature over the record; never raises, reports the problem."""
    try:
        key = directory.key(key_id, algorithm=ED25519, at_ms=at_ms)
        if key.office_id != office_id:
            raise BadSignature(f"key {key_id} is not {office_id}'s")
        nacl.signing.VerifyKey(key.public_key).verify(RECORD_DOMAIN + record, signature)
    except (BadSignature, nacl.exceptions.BadSignatureError, ValueError) as e:
        return RecordSignature(office_id, key_id, "", False, str(e) or "bad signature")
    except Exception as e:  # noqa: BLE001 - an unknown or revoked key is reported, not raised
        return RecordSignature(office_id, key_id, "", False, getattr(e, "message", str(e)))
    return RecordSignature(office_id, key_id, fingerprint(key.public_key), True)
