"""The frozen values the store takes and gives (rows in, rows out)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.protocol.workflow import Step

__all__ = ["BundleClaim", "Due", "IdempotentAnswer", "Incoming", "OutboxItem", "ReceiveResult",
           "Submission"]


@dataclass(frozen=True)
class OutboxItem:
    outbox_id: int
    envelope_id: int
    peer: str
    message_id: bytes
    sha256: bytes
    raw: bytes
    expires_at_ms: int
    attempts: int
    stored_at_ms: int = 0  # when it was accepted here: the delivery-latency histogram


@dataclass(frozen=True)
class Due:
    """One read of a peer's delivery queue (``OutboxMixin.due_or_next``)."""

    items: list[OutboxItem]
    #: The read stopped at its limit (of rows or of bytes): more rows may be due now.
    full: bool = False
    #: When nothing was due: when the next queued row is due (None: nothing is queued) and,
    #: if that time has passed (replies that wait), the next one due after now.
    next_ms: int | None = None
    later_ms: int | None = None


@dataclass(frozen=True)
class Incoming:
    """A verified envelope to store, with what the receipt needs."""

    message_id: bytes
    sender: str
    recipients: tuple[str, ...]
    message_type: int
    sha256: bytes
    raw: bytes
    created_at_ms: int
    expires_at_ms: int
    case_reference: str
    in_reply_to: str
    priority: int
    handling_code: int
    deadline_ms: int
    workflow_step: int = 0


@dataclass(frozen=True)
class IdempotentAnswer:
    """The answer to an officer request that carried an ``Idempotency-Key``: stored in the
    transaction of the submission it created, replayed for the same key and request."""

    user: str
    key_sha256: bytes  # the key itself is never stored
    request_hmac: bytes  # HMAC-SHA256 of the request under the key: tells "same request"
    message_id: bytes
    status: int
    answer: bytes  # the JSON body, verbatim


@dataclass(frozen=True)
class Submission:
    envelope: Incoming
    peers: tuple[str, ...]
    now_ms: int
    submitted_by: str | None
    step: Step | None = None
    deadline_ms: int = 0
    idempotency: IdempotentAnswer | None = None


@dataclass(frozen=True)
class ReceiveResult:
    status: str  # "accepted" | "duplicate" | "conflict" | "invalid"
    receipt: bytes
    detail: str = ""


@dataclass(frozen=True)
class BundleClaim:
    """A verified courier bundle being imported: recorded in the transaction that stores its
    envelopes, which fails whole (``Replay``/``StaleBundle``) if it is not newer than the last
    one from its issuer."""

    issuer: str
    sequence: int
    sha256: bytes
    created_at_ms: int
    ack_sequence: int
    envelopes: int
    receipts: int
