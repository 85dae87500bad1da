"""Payloads: the typed, bilingual messages officers exchange.

This module is the one seam over the generated protobuf code: the rest of the
gateway (web handlers, CLI, workflows) imports ``pb`` and ``Payload`` from here
and never a ``*_pb2`` module. Invariants:

* a ``Payload`` holds exactly one body, whose type is its ``message_type``;
* parsing is size-limited and every failure is ``Malformed``;
* the ``MessageContext`` of the body (case reference, reply-to, deadline,
  priority, handling code) is what the envelope header mirrors.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as PbMessage

from gateway.protocol.errors import Malformed, PayloadTooLarge
from gateway.schemas.blo.v1 import common_pb2, envelope_pb2, payloads_pb2

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "WORKFLOW_FIELD",
    "Context",
    "HandlingCode",
    "MessageType",
    "Payload",
    "PbMessage",
    "Priority",
    "pb",
]

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


class _SurrogateCheck:
    """protobuf's JSON parser refuses a string with an unpaired surrogate by a regular
    expression with look-arounds, run over every string: most of the cost of parsing a
    payload. This gives the same answer faster: a string that encodes as UTF-8 holds no
    surrogate at all (the common case, checked at C speed); only one that does not is
    searched with protobuf's own pattern."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def search(self, value: str) -> re.Match[str] | None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return self.pattern.search(value)
        return None


_pattern = getattr(json_format, "_UNPAIRED_SURROGATE_PATTERN", None)
if isinstance(_pattern, re.Pattern):  # a release without it: correct as it is, and slower
    json_format._UNPAIRED_SURROGATE_PATTERN = _SurrogateCheck(_pattern)  # type: ignore[attr-defined]

#: The generated message classes, under their schema names (``pb.HotlineReport``).
pb = SimpleNamespace(
    **{name: getattr(common_pb2, name) for name in common_pb2.DESCRIPTOR.message_types_by_name},
    **{name: getattr(payloads_pb2, name) for name in payloads_pb2.DESCRIPTOR.message_types_by_name},
)


class MessageType(enum.IntEnum):
    """Payload types; values are the proto enum ``blo.v1.MessageType``."""

    IDENTIFICATION_REQUEST = 1
    VERIFICATION_RESPONSE = 2
    REPATRIATION_NOTICE = 3
    HANDOVER_RECORD = 4
    CASE_NOTICE = 5
    HOTLINE_REPORT = 6
    ACKNOWLEDGEMENT = 7
    STATUS_UPDATE = 8
    REJECTION = 9

    @property
    def slug(self) -> str:
        """The CLI / JSON name, e.g. ``hotline_report`` (the ``Payload.body`` field)."""
        return self.name.lower()

    @classmethod
    def from_slug(cls, slug: str) -> MessageType:
        try:
            return cls[slug.upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(t.slug for t in cls)
            raise Malformed(f"unknown message type {slug!r}; one of: {names}") from None


class Priority(enum.IntEnum):
    UNSPECIFIED = 0
    ROUTINE = 1
    HIGH = 2
    URGENT = 3


class HandlingCode(enum.IntEnum):
    UNSPECIFIED = 0
    LAW_ENFORCEMENT_ONLY = 1
    NO_JUDICIAL_USE = 2
    NO_ONWARD_TRANSFER = 3
    ORIGINATOR_CONTROLLED = 4


@dataclass(frozen=True)
class Context:
    """The routing-relevant part of a payload, mirrored in the envelope header."""

    case_reference: str = ""
    in_reply_to: str = ""
    reply_to: str = ""
    deadline_ms: int = 0
    priority: Priority = Priority.ROUTINE
    handling_code: HandlingCode = HandlingCode.LAW_ENFORCEMENT_ONLY


#: The enum field of each type that moves a workflow; mirrored as header ``workflow_step``.
WORKFLOW_FIELD = {
    MessageType.STATUS_UPDATE: "status",
    MessageType.REPATRIATION_NOTICE: "step",
    MessageType.VERIFICATION_RESPONSE: "result",
    MessageType.HOTLINE_REPORT: "classification",
    MessageType.REJECTION: "reason_code",
}

_BODY = payloads_pb2.Payload.DESCRIPTOR.oneofs_by_name["body"]
_BODY_FIELDS = payloads_pb2.Payload.DESCRIPTOR.fields_by_name


class Payload:
    """One sealed plaintext: a ``blo.v1.Payload`` with exactly one body."""

    __slots__ = ("_pb",)

    def __init__(self, message: PbMessage) -> None:
        """Wrap a body message such as ``pb.HotlineReport(...)``."""
        field = _field_for(message)
        self._pb = payloads_pb2.Payload()
        getattr(self._pb, field).CopyFrom(message)

    @property
    def message_type(self) -> MessageType:
        which = self._pb.WhichOneof("body")
        assert which is not None  # guaranteed by the constructors
        return MessageType[which.upper()]

    @property
    def body(self) -> PbMessage:
        """The body message (e.g. a ``HotlineReport``); a copy-free view."""
        body: PbMessage = getattr(self._pb, self.message_type.slug)
        return body

    @property
    def workflow_step(self) -> int:
        """The body's workflow enum (see ``WORKFLOW_FIELD``), mirrored in the envelope header."""
        name = WORKFLOW_FIELD.get(self.message_type)
        return int(getattr(self.body, name)) if name else 0

    @property
    def context(self) -> Context:
        c = self.body.context  # type: ignore[attr-defined]
        return Context(
            case_reference=c.case_reference,
            in_reply_to=c.in_reply_to,
            reply_to=c.reply_to,
            deadline_ms=c.deadline.unix_millis,
            priority=Priority(c.priority),
            handling_code=HandlingCode(c.handling_code),
        )

    def to_bytes(self) -> bytes:
        return self._pb.SerializeToString(deterministic=True)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_size: int = MAX_PAYLOAD_BYTES) -> Payload:
        if len(data) > max_size:
            raise PayloadTooLarge(f"payload is {len(data)} bytes; the limit is {max_size}")
        msg = payloads_pb2.Payload()
        try:
            msg.ParseFromString(data)
        except DecodeError as e:
            raise Malformed("payload is not a valid blo.v1.Payload") from e
        if msg.WhichOneof("body") is None:
            raise Malformed("payload has no body")
        return cls._wrap(msg)

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "<slug>", "body": {...}}`` in protobuf's JSON mapping."""
        body = json_format.MessageToDict(self.body, preserving_proto_field_name=True)
        return {"type": self.message_type.slug, "body": body}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Payload:
        """Inverse of ``to_dict``; unknown fields and bad values are ``Malformed``."""
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise Malformed('a payload object needs "type" (e.g. "hotline_report") and "body"')
        mtype = MessageType.from_slug(data["type"])
        desc = _BODY_FIELDS[mtype.slug].message_type
        assert desc is not None
        body = getattr(payloads_pb2, desc.name)()
        try:
            json_format.ParseDict(data.get("body") or {}, body)
        except json_format.ParseError as e:
            raise Malformed(f"invalid {mtype.slug} body: {e}") from e
        return cls(body)

    @classmethod
    def from_json(cls, text: str | bytes) -> Payload:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise Malformed(f"not JSON: {e}") from e
        return cls.from_dict(data)

    @property
    def pb(self) -> PbMessage:
        """The underlying ``blo.v1.Payload`` (for rendering and tests)."""
        return self._pb

    @classmethod
    def _wrap(cls, msg: payloads_pb2.Payload) -> Payload:
        obj = cls.__new__(cls)
        obj._pb = msg
        return obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Payload) and self._pb == other._pb

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"Payload({self.message_type.slug}, {len(self.to_bytes())} bytes)"


def _field_for(message: PbMessage) -> str:
    for f in _BODY.fields:
        if f.message_type is message.DESCRIPTOR:
            return str(f.name)
    raise TypeError(f"{type(message).__name__} is not a payload type")


def _check_enums() -> None:
    # The Python enums above are hand-written for mypy; keep them equal to the schema.
    pairs: list[tuple[type[enum.IntEnum], Any, str]] = [
        (MessageType, envelope_pb2.MessageType, "MESSAGE_TYPE_"),
        (Priority, common_pb2.Priority, "PRIORITY_"),
        (HandlingCode, common_pb2.HandlingCode, "HANDLING_CODE_"),
    ]
    for py, proto, prefix in pairs:
        want = {n.removeprefix(prefix): v for n, v in proto.items()}
        want.pop("UNSPECIFIED", None)
        have = {m.name: m.value for m in py if m.name != "UNSPECIFIED"}
        if want != have:
            raise RuntimeError(f"{py.__name__} differs from the schema: {want} != {have}")


_check_enums()
