"""One error tree for everything a peer, a user or a file can cause.

Every error has a stable ``code`` (part of the wire and CLI contract: never
rename one) and the HTTP status the web layer answers with. Third-party
exceptions are wrapped at the boundary (``raise ... from e``) so that no
library's message reaches a peer.

Over 400 lines on purpose: the one tree (style.md, item 3) is one file, so that a new
code is checked against all the others at a glance.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuditBadCosignature",
    "AuditBadDirectory",
    "AuditBadSignature",
    "AuditDowngrade",
    "AuditEntryEdited",
    "AuditFork",
    "AuditNoRoots",
    "AuditNotWitnessed",
    "AuditOriginMismatch",
    "AuditPeerInconsistent",
    "AuditPeerUnavailable",
    "AuditPolicyNotMet",
    "AuditProblem",
    "AuditReceiptMismatch",
    "AuditRootsMismatch",
    "AuditSequenceBroken",
    "AuditSplitView",
    "AuditTampered",
    "AuditTruncated",
    "AuditUnreadable",
    "AuditUnsignedTail",
    "AuditUnverifiable",
    "AuditWitnessKeyRevoked",
    "AuditWitnessStale",
    "BadIdempotencyKey",
    "BadImportFile",
    "BadImportRows",
    "BadSignature",
    "CheckpointExtension",
    "ConfigError",
    "Conflict",
    "CsrfRejected",
    "DecryptionFailed",
    "DirectoryError",
    "DirectoryExpired",
    "Downgrade",
    "Expired",
    "Forbidden",
    "GatewayError",
    "IdempotencyKeyReused",
    "KeyExpired",
    "KeyRevoked",
    "Malformed",
    "NotARecipient",
    "NotFound",
    "NotYetValid",
    "PayloadTooLarge",
    "PeerUnavailable",
    "RateLimited",
    "RemoteError",
    "Replay",
    "RootsError",
    "SchemaMismatch",
    "SecondFactorMissing",
    "SessionExpired",
    "Shredded",
    "SignInFailed",
    "StaleBundle",
    "StorageError",
    "StorageFull",
    "Unauthorized",
    "UnknownKey",
    "UnknownRoot",
    "UnsupportedVersion",
    "WrongDestination",
    "status_for",
]


class GatewayError(Exception):
    """Root of the tree. ``code`` is stable; ``message`` explains it to a person."""

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class Malformed(GatewayError):
    """Bytes that do not follow the wire format (truncated, bad lengths, bad protobuf)."""

    code = "MALFORMED"
    http_status = 400


class UnsupportedVersion(Malformed):
    """A wire version or algorithm suite this gateway does not implement."""

    code = "UNSUPPORTED_VERSION"


class Downgrade(UnsupportedVersion):
    """Suite-1 traffic between offices that the signed directory says both accept suite 2
    (docs/wire-format.md §14): an attacker must not be able to strip the post-quantum half."""

    code = "DOWNGRADE"


class PayloadTooLarge(GatewayError):
    code = "TOO_LARGE"
    http_status = 413


class BadSignature(GatewayError):
    code = "BAD_SIGNATURE"
    http_status = 401


class UnknownKey(GatewayError):
    code = "UNKNOWN_KEY"
    http_status = 401


class KeyRevoked(GatewayError):
    code = "KEY_REVOKED"
    http_status = 401


class KeyExpired(GatewayError):
    """The key is outside its validity period at the time of use."""

    code = "KEY_EXPIRED"
    http_status = 401


class Expired(GatewayError):
    """The message itself has passed its expiry (or claims a time too far ahead)."""

    code = "EXPIRED"
    http_status = 400


class NotYetValid(Expired):
    """An envelope signed more than the allowed skew ahead of the receiver's clock (its
    sender's clock is, or was, fast): not a fault of the envelope, which the receiver takes
    once its own clock has caught up, so the sender retries it (wire-format §7)."""

    code = "NOT_YET_VALID"


class NotARecipient(GatewayError):
    code = "NOT_A_RECIPIENT"
    http_status = 403


class DecryptionFailed(GatewayError):
    """The AEAD refused: wrong key, or bytes changed in a way the signature did not cover."""

    code = "DECRYPTION_FAILED"
    http_status = 400


class DirectoryError(GatewayError):
    """The trust directory is missing signatures, expired, older than the one we hold, ..."""

    code = "BAD_DIRECTORY"
    http_status = 400


class UnknownRoot(DirectoryError):
    """A directory signed by a key that is not one of the pinned roots (still
    ``BAD_DIRECTORY``; told apart so that a root rotation in progress raises no alert)."""


class RootsError(DirectoryError):
    """A root set (a root rotation, docs/wire-format.md §3.4) that may not replace the pinned
    roots: not signed by every current and every new root, an older version, a bad set."""

    code = "BAD_ROOTS"
    http_status = 400


class DirectoryExpired(DirectoryError):
    """This gateway's own trust directory has expired: it refuses peer traffic and sealing
    until a newer co-signed directory is installed (a state of ours, so 503: retry later)."""

    code = "DIRECTORY_EXPIRED"
    http_status = 503


class Unauthorized(GatewayError):
    code = "UNAUTHORIZED"
    http_status = 401


class Replay(GatewayError):
    code = "REPLAY"
    http_status = 409


class StaleBundle(Replay):
    """A courier bundle older than (or as old as) the last one imported from its issuer;
    the newer one already carried whatever of it was still undelivered."""

    code = "STALE_BUNDLE"


class Conflict(GatewayError):
    """The same (sender, message id) arrived with different bytes, or an invalid transition."""

    code = "CONFLICT"
    http_status = 409


class WrongDestination(GatewayError):
    code = "WRONG_DESTINATION"
    http_status = 421


class RateLimited(GatewayError):
    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AddressBlocked(RateLimited):
    """Too many failed (unauthenticated) requests from one remote address."""

    code = "ADDRESS_BLOCKED"


class Busy(GatewayError):
    """Too much unauthenticated work in progress; try again shortly."""

    code = "BUSY"
    http_status = 503


class RequestTimeout(GatewayError):
    """The request body did not arrive within the read timeout."""

    code = "REQUEST_TIMEOUT"
    http_status = 408


class NotFound(GatewayError):
    code = "NOT_FOUND"
    http_status = 404


class PeerUnavailable(GatewayError):
    code = "PEER_UNAVAILABLE"
    http_status = 502


class StorageError(GatewayError):
    """The store refused a write (disk full, database down); nothing was accepted."""

    code = "STORAGE_UNAVAILABLE"
    http_status = 503


class StorageFull(StorageError):
    """The database's disk is full; nothing was accepted (507: retry once space is freed)."""

    code = "STORAGE_FULL"
    http_status = 507


class Shredded(GatewayError):
    """The message's storage key was destroyed at the end of its retention period."""

    code = "SHREDDED"
    http_status = 410


class ConfigError(GatewayError):
    code = "BAD_CONFIG"
    http_status = 500


class SchemaMismatch(ConfigError):
    """The database's schema is older or newer than this code (``blo-gateway migrate``)."""

    code = "SCHEMA_MISMATCH"


def status_for(code: str) -> int:
    """The HTTP status that goes with a stable error code."""
    stack: list[type[GatewayError]] = [GatewayError]
    while stack:
        cls = stack.pop()
        if cls.code == code:
            return cls.http_status
        stack.extend(cls.__subclasses__())
    return 400


class BadIdempotencyKey(Malformed):
    """An Idempotency-Key header that is not 1 to 255 printable ASCII characters (an
    sf-string: optionally in double quotes, no quote or backslash inside)."""

    code = "BAD_IDEMPOTENCY_KEY"


class IdempotencyKeyReused(GatewayError):
    """This Idempotency-Key was already used by this user for a different request; a new
    request needs a new key."""

    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 422


class Forbidden(GatewayError):
    """The user's role does not allow this."""

    code = "FORBIDDEN"
    http_status = 403


class RemoteError(GatewayError):
    """An error a gateway's API answered with; ``remote_code`` is its stable code."""

    code = "REMOTE"
    http_status = 502

    def __init__(self, remote_code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.remote_code = remote_code
        self.status = status


# --------------------------------------------------------------------------- audit verdicts
# What the offline audit verifier (gateway/audit/verify.py) finds. Each class is one stable code and
# its docstring is the sentence an auditor reads; ``exit_code`` is the class of the verdict:
# 1 tampered, 2 policy not met, 3 could not check (docs/audit-log.md).


class AuditProblem(GatewayError):
    """The audit bundle does not verify."""

    code = "AUDIT_PROBLEM"
    http_status = 422
    exit_code: ClassVar[int] = 1


class AuditTampered(AuditProblem):
    """The bundle differs from what was signed: entries or signatures were altered."""

    code = "AUDIT_TAMPERED"


class AuditRootsMismatch(AuditTampered):
    """The bundle carries trust roots other than the ones the auditor pinned."""

    code = "AUDIT_ROOTS_MISMATCH"


class AuditBadDirectory(AuditTampered):
    """The bundle's trust directory is not signed by the auditor's VN and CN roots."""

    code = "AUDIT_BAD_DIRECTORY"


class AuditOriginMismatch(AuditTampered):
    """A log origin differs from the one the trust directory fixes for that office."""

    code = "AUDIT_ORIGIN_MISMATCH"


class AuditEntryEdited(AuditTampered):
    """An entry was changed after it was signed."""

    code = "AUDIT_ENTRY_EDITED"


class AuditSequenceBroken(AuditTampered):
    """Entries were deleted, inserted or reordered."""

    code = "AUDIT_SEQUENCE_BROKEN"


class AuditTruncated(AuditTampered):
    """The bundle holds fewer entries than a signed or cosigned checkpoint covers."""

    code = "AUDIT_TRUNCATED"


class AuditUnsignedTail(AuditTampered):
    """Entries past the newest signed checkpoint: nobody signed for them."""

    code = "AUDIT_UNSIGNED_TAIL"


class AuditFork(AuditTampered):
    """Two different trees were signed for the same size."""

    code = "AUDIT_FORK"


class AuditBadSignature(AuditTampered):
    """A checkpoint signature does not verify with the office's keys."""

    code = "AUDIT_BAD_SIGNATURE"


class AuditDowngrade(AuditTampered):
    """A checkpoint or cosignature of an office that accepts suite 2 lacks its ML-DSA-65
    signature line (docs/audit-log.md, Suite 2)."""

    code = "AUDIT_DOWNGRADE"


class AuditBadCosignature(AuditTampered):
    """A witness cosignature does not verify."""

    code = "AUDIT_BAD_COSIGNATURE"


class AuditWitnessKeyRevoked(AuditTampered):
    """A cosignature was made with a witness key that was revoked or not valid at that time."""

    code = "AUDIT_WITNESS_KEY_REVOKED"


class AuditSplitView(AuditTampered):
    """The other side cosigned a different history of this log."""

    code = "AUDIT_SPLIT_VIEW"


class AuditReceiptMismatch(AuditTampered):
    """A send and its receipt do not match across the two logs."""

    code = "AUDIT_RECEIPT_MISMATCH"


class AuditPeerInconsistent(AuditTampered):
    """The live gateway's cosigned log does not extend the bundle's export checkpoint."""

    code = "AUDIT_PEER_INCONSISTENT"


class AuditPolicyNotMet(AuditProblem):
    """The bundle is intact but the witnessing policy is not met."""

    code = "AUDIT_POLICY_NOT_MET"
    exit_code = 2


class AuditNotWitnessed(AuditPolicyNotMet):
    """No witness of the other country cosigned this log."""

    code = "AUDIT_NOT_WITNESSED"


class AuditWitnessStale(AuditPolicyNotMet):
    """Entries older than the allowed bound are not covered by a cosigned checkpoint."""

    code = "AUDIT_WITNESS_STALE"


class AuditUnverifiable(AuditProblem):
    """The verifier could not check the bundle."""

    code = "AUDIT_UNVERIFIABLE"
    exit_code = 3


class AuditNoRoots(AuditUnverifiable):
    """No trust roots were given: pin them with --roots, --home or --root-fingerprint."""

    code = "AUDIT_NO_ROOTS"


class AuditUnreadable(AuditUnverifiable):
    """The file is not a readable audit bundle."""

    code = "AUDIT_UNREADABLE"


class AuditPeerUnavailable(AuditUnverifiable):
    """The live gateway given with --peer could not be asked."""

    code = "AUDIT_PEER_UNAVAILABLE"


class CheckpointExtension(Malformed):
    """A checkpoint with extension lines: our witnesses cosign only three-line checkpoints."""

    code = "CHECKPOINT_EXTENSION"


class BadImportFile(Malformed):
    """An import file (hotline call log, Border Guard roster: ``adapters/``) that cannot be
    read as a table: too large, not UTF-8, not CSV/JSON/XLSX, or a required column missing.
    Nothing is sent."""

    code = "BAD_IMPORT_FILE"


class BadImportRows(Malformed):
    """An import file with bad rows (each reported with its row, column and reason); nothing
    is sent unless the user chose to send the good rows."""

    code = "BAD_IMPORT_ROWS"


class SignInFailed(Unauthorized):
    """Web sign-in refused: unknown user, wrong password or second factor, or disabled user.

    One code for all of them, so that the answer does not tell which part was wrong."""

    code = "SIGN_IN_FAILED"


class SessionExpired(Unauthorized):
    """The web session ended: idle too long, past its lifetime, signed out or revoked."""

    code = "SESSION_EXPIRED"


class CsrfRejected(Forbidden):
    """A state-changing web request without the form token of the user's own session."""

    code = "CSRF_REJECTED"


class SecondFactorMissing(Forbidden):
    """The user's role reads message content but no second factor (TOTP) is enrolled."""

    code = "SECOND_FACTOR_MISSING"


class BadBackup(GatewayError):
    """A backup file that is not one (wrong magic, a chunk too large, truncated, tampered
    with, or sealed to another backup key), or a restore that would overwrite a home."""

    code = "BAD_BACKUP"
