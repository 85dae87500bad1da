"""The roles of the gateway's users and what each may do: one table for the officer API, the
web app and the ``users`` CLI.

| role | may |
|---|---|
| ``officer`` | compose and send every type, open received messages, act on them |
|             | (acknowledge, reject, forward, countersign), see cases and statistics |
| ``border_guard`` | the same, limited to repatriation notices and handover records |
|                  | (and the cases they open); records and countersigns handovers |
| ``supervisor`` | reads everything an officer reads (content too), every case of the office |
|                | (escalations among them) and the statistics; sends nothing |
| ``auditor`` | states, metadata, statistics, the audit log; never content |
| ``admin`` | users, sessions, peers, the trust directory; never content on the web |

Invariants: a role that reads content (``CONTENT_ROLES``) needs a second factor on the web;
a role limited to some message types (``message_types``) sees, opens, composes and acts on
those types only, and lists show it nothing else.
"""

from __future__ import annotations

from gateway.protocol.messages import MessageType

__all__ = ["CONTENT_ROLES", "HANDOVER_TYPES", "PAGES", "ROLES", "SENDING_ROLES",
           "may", "may_read", "may_send", "message_types"]

ROLES = ("officer", "border_guard", "supervisor", "auditor", "admin")
#: roles that read message content: a second factor is required for them on the web
CONTENT_ROLES = frozenset({"officer", "border_guard", "supervisor"})
#: roles that compose, send and act on received messages
SENDING_ROLES = frozenset({"officer", "border_guard"})
HANDOVER_TYPES = frozenset({MessageType.REPATRIATION_NOTICE, MessageType.HANDOVER_RECORD})
_TYPES: dict[str, frozenset[MessageType]] = {"border_guard": HANDOVER_TYPES}
#: which roles may open each area of the web app that is not open to every role
PAGES: dict[str, frozenset[str]] = {
    "content": CONTENT_ROLES,
    "compose": SENDING_ROLES,
    "act": SENDING_ROLES,
    "handover": CONTENT_ROLES,
    "cases": frozenset({"supervisor"}),
    "stats": frozenset({"officer", "supervisor", "auditor"}),
    "audit": frozenset({"auditor"}),
    "admin": frozenset({"admin"}),
}


def message_types(role: str) -> frozenset[MessageType] | None:
    """The only message types ``role`` deals with (None: every type)."""
    return _TYPES.get(role)


def _type_ok(role: str, message_type: int) -> bool:
    types = _TYPES.get(role)
    return types is None or message_type in types


def may(role: str, area: str) -> bool:
    """Whether ``role`` may open ``area`` (a key of ``PAGES``)."""
    return role in PAGES[area]


def may_read(role: str, message_type: int) -> bool:
    """Whether ``role`` may open (decrypt) a message of ``message_type``."""
    return role in CONTENT_ROLES and _type_ok(role, message_type)


def may_send(role: str, message_type: int) -> bool:
    """Whether ``role`` may compose ``message_type``, or act on a received one of it."""
    return role in SENDING_ROLES and _type_ok(role, message_type)
