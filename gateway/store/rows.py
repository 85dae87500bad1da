"""The frozen values the store takes and gives (rows in, rows out)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.protocol.workflow import Step

__all__ = ["Incoming", "OutboxItem", "ReceiveResult", "Submission"]


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
class Submission:
    envelope: Incoming
    peers: tuple[str, ...]
    now_ms: int
    submitted_by: str | None
    step: Step | None = None
    deadline_ms: int = 0


@dataclass(frozen=True)
class ReceiveResult:
    status: str  # "accepted" | "duplicate" | "conflict" | "invalid"
    receipt: bytes
    detail: str = ""
