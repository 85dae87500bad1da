"""Case workflows: the state of every request, handover and notice, moved by the messages.

An *item* starts with a root message — an identification request, a repatriation
proposal, a case notice or a hotline report — and every reply names it in
``in_reply_to``. Both gateways apply the same pure ``transition`` to the same
header metadata (type and the mirrored ``workflow_step``), so both show the same
state without decrypting anything. The sending gateway refuses an invalid
transition before sealing; the receiving gateway refuses one with the same code
(``INVALID_TRANSITION``) and stores nothing. States:

* request:  sent → accepted | rejected → in_progress → answered → closed; escalated
* handover: proposed → counter_proposed → agreed → scheduled → executed → closed;
  postponed, cancelled, rejected
* notice (case notice, hotline report): sent → acknowledged → in_progress → closed; rejected

``overdue`` is computed, not stored: the deadline (the message's own, or the configured
default for its type and priority) has passed and the item is still waiting for the other
side (see ``WAITING``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.protocol.errors import ConfigError, GatewayError
from gateway.protocol.messages import MessageType

__all__ = ["DEFAULT_DEADLINE_HOURS", "WAITING", "InvalidTransition", "Step", "transition"]


class InvalidTransition(GatewayError):
    code = "INVALID_TRANSITION"
    http_status = 409


# Enum values mirrored in the header (see schemas/blo/v1/payloads.proto).
CASE_STATUS = {1: "accepted", 2: "in_progress", 3: "answered", 4: "closed", 5: "escalated",
               6: "scheduled"}
REPATRIATION_STEP = {1: "proposal", 2: "counter_proposal", 3: "agreement", 4: "postponement",
                     5: "cancellation"}

ROOT_KIND = {
    MessageType.IDENTIFICATION_REQUEST: "request",
    MessageType.REPATRIATION_NOTICE: "handover",
    MessageType.CASE_NOTICE: "notice",
    MessageType.HOTLINE_REPORT: "notice",
}
INITIAL = {"request": "sent", "handover": "proposed", "notice": "sent"}
TERMINAL = frozenset({"closed", "rejected", "cancelled"})
#: states in which the item waits for the other side (and so can become overdue)
WAITING = {
    "request": frozenset({"sent", "accepted", "in_progress", "escalated"}),
    "handover": frozenset({"proposed", "counter_proposed", "postponed"}),
    "notice": frozenset({"sent"}),
}
#: default answer time, hours, by root type and priority (1 routine, 2 high, 3 urgent).
#: Law 53/2024 Art. 27 asks initial verification within 3 days inside Vietnam.
DEFAULT_DEADLINE_HOURS: dict[str, dict[int, float]] = {
    "identification_request": {1: 72, 2: 72, 3: 24},
    "repatriation_notice": {1: 120, 2: 72, 3: 24},
    "case_notice": {1: 168, 2: 72, 3: 24},
    "hotline_report": {1: 48, 2: 24, 3: 4},
}

PRIORITY_NAMES = {"routine": 1, "high": 2, "urgent": 3}


def deadline_table(overrides: dict[str, float]) -> dict[str, dict[int, float]]:
    """The defaults with ``{"<type>.<priority>": hours}`` overrides applied."""
    table: dict[str, dict[int, float]] = {t: dict(v) for t, v in DEFAULT_DEADLINE_HOURS.items()}
    for key, hours in overrides.items():
        mtype, _, prio = key.partition(".")
        if mtype not in table or prio not in PRIORITY_NAMES or hours <= 0:
            raise ConfigError(f"deadline_hours: {key!r} must be <type>.<routine|high|urgent> "
                              f"with a positive number, type one of {', '.join(table)}")
        table[mtype][PRIORITY_NAMES[prio]] = hours
    return table


# (kind, event) -> {from state: to state}
def _to(target: str, *sources: str) -> dict[str, str]:
    return dict.fromkeys(sources, target)


_OPEN_HANDOVER = ("proposed", "counter_proposed", "postponed")
_RULES: dict[tuple[str, str], dict[str, str]] = {
    ("request", "accepted"): _to("accepted", "sent"),
    ("request", "rejection"): _to("rejected", "sent", "accepted"),
    ("request", "in_progress"): _to("in_progress", "sent", "accepted", "escalated"),
    ("request", "answer"): _to("answered", "sent", "accepted", "in_progress", "escalated"),
    ("request", "closed"): _to("closed", "answered", "rejected"),
    ("request", "escalated"): _to("escalated", "sent", "accepted", "in_progress"),
    ("handover", "counter_proposal"): _to("counter_proposed", *_OPEN_HANDOVER),
    ("handover", "agreement"): _to("agreed", *_OPEN_HANDOVER),
    ("handover", "scheduled"): _to("scheduled", "agreed"),
    ("handover", "record"): _to("executed", "agreed", "scheduled"),
    ("handover", "closed"): _to("closed", "executed"),
    ("handover", "postponement"): _to("postponed", "proposed", "counter_proposed", "agreed",
                                      "scheduled"),
    ("handover", "cancellation"): _to("cancelled", *_OPEN_HANDOVER, "agreed", "scheduled"),
    ("handover", "rejection"): _to("rejected", "proposed", "counter_proposed"),
    ("notice", "acknowledgement"): _to("acknowledged", "sent"),
    ("notice", "in_progress"): _to("in_progress", "sent", "acknowledged"),
    ("notice", "closed"): _to("closed", "acknowledged", "in_progress"),
    ("notice", "rejection"): _to("rejected", "sent"),
}


@dataclass(frozen=True)
class Step:
    """What one message does to the workflow."""

    root: str  # message id (hex) of the item's root message
    kind: str
    new_item: bool
    state_from: str | None
    state_to: str


def _event(message_type: MessageType, step: int) -> str | None:
    if message_type == MessageType.STATUS_UPDATE:
        return CASE_STATUS.get(step)
    if message_type == MessageType.REPATRIATION_NOTICE:
        return REPATRIATION_STEP.get(step)
    return {MessageType.VERIFICATION_RESPONSE: "answer", MessageType.REJECTION: "rejection",
            MessageType.ACKNOWLEDGEMENT: "acknowledgement",
            MessageType.HANDOVER_RECORD: "record"}.get(message_type)


def transition(*, message_id: str, message_type: MessageType, step: int, in_reply_to: str,
               current: tuple[str, str] | None) -> Step | None:
    """The step a message makes. ``current`` is (kind, state) of the item named by
    ``in_reply_to`` (None if there is no such item). Returns None for a message that moves
    nothing (an acknowledgement of a reply, a status update with no item, ...)."""
    kind = ROOT_KIND.get(message_type)
    opens = kind is not None and not in_reply_to and not (
        message_type == MessageType.REPATRIATION_NOTICE and step not in (0, 1))
    if opens:
        assert kind is not None
        return Step(message_id, kind, True, None, INITIAL[kind])
    if not in_reply_to:
        if message_type == MessageType.REPATRIATION_NOTICE:
            raise InvalidTransition("a counter-proposal, agreement, postponement or "
                                    "cancellation must reply to the proposal (in_reply_to)")
        if message_type in (MessageType.VERIFICATION_RESPONSE, MessageType.HANDOVER_RECORD):
            raise InvalidTransition(f"a {message_type.slug} must reply to its request "
                                    "(in_reply_to)")
        return None
    if current is None:
        if message_type == MessageType.ACKNOWLEDGEMENT:
            return None  # acknowledging a reply, not an item
        raise InvalidTransition(f"message {in_reply_to} does not start a case item here")
    item_kind, state = current
    event = _event(message_type, step)
    if event is None:
        if message_type == MessageType.ACKNOWLEDGEMENT:
            return None
        raise InvalidTransition(f"a {message_type.slug} does not move a {item_kind}")
    if event == "acknowledgement" and item_kind != "notice":
        return None
    rule = _RULES.get((item_kind, event))
    if rule is None:
        raise InvalidTransition(f"a {item_kind} has no step '{event}'")
    if state not in rule:
        raise InvalidTransition(f"a {item_kind} that is {state} cannot take the step "
                                f"'{event}'")
    return Step(in_reply_to, item_kind, False, state, rule[state])
