"""Cases: the workflow items that messages open and move.

The store records the workflow's decision; ``protocol.workflow.transition`` makes it. On the
sending side the node decides before the write (``Submission.step``). On the receiving side
``inbox.receive`` still calls ``transition`` inside its transaction, because the decision
needs the item's current state read in the same transaction that changes it (two replies
in one batch, or a reply racing a local transition, must see each other); taking it out
would need a read-then-write across transactions or a callback, a behaviour change left
for later. ``_Steps`` holds the states a batch made and writes them in bulk.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.protocol.messages import MessageType
from gateway.protocol.workflow import DEFAULT_DEADLINE_HOURS, WAITING, Step
from gateway.store.engine import StoreBase
from gateway.store.keys import _plain_row
from gateway.store.rows import Incoming
from gateway.store.tables import case_items, content_keys, envelopes

__all__ = ["CasesMixin", "deadline_for"]


# ``_Steps``' statements, built once (see ``inbox``).
_ITEM_STATE = sa.select(case_items.c.kind, case_items.c.state).where(
    case_items.c.root_id == sa.bindparam("root"))
_MOVE = (sa.update(case_items).where(case_items.c.root_id == sa.bindparam("root"))
         .values(state=sa.bindparam("st"), updated_ms=sa.bindparam("now"),
                 answered_ms=sa.func.coalesce(case_items.c.answered_ms,
                                              sa.bindparam("ans", type_=sa.BigInteger))))


class _Steps:
    """Workflow steps of one transaction, written in bulk; later messages of the same batch
    see the states that earlier ones made."""

    #: the columns of a new item, in the order of the tuples in ``new``
    NEW_COLUMNS = ("root_id", "kind", "message_type", "root_step", "case_reference",
                   "opened_by", "counterpart", "state", "priority", "created_ms",
                   "updated_ms", "deadline_ms")

    def __init__(self, c: sa.Connection, store: StoreBase) -> None:
        self.c = c
        self.store = store
        self.state: dict[str, tuple[str, str]] = {}
        self.new: list[tuple[Any, ...]] = []
        self.moves: list[dict[str, Any]] = []

    def current(self, root: str) -> tuple[str, str] | None:
        if root not in self.state:
            row = self.c.execute(_ITEM_STATE, {"root": root}).first()
            if row is None:
                return None
            self.state[root] = (row.kind, row.state)
        return self.state[root]

    def add(self, ev: list[dict[str, Any]], step: Step, env: Incoming, opened_by: str,
            counterpart: str, now_ms: int, deadline_ms: int) -> None:
        self.state[step.root] = (step.kind, step.state_to)
        if step.new_item:
            self.new.append((step.root, step.kind, env.message_type, env.workflow_step,
                             env.case_reference, opened_by, counterpart, step.state_to,
                             env.priority, now_ms, now_ms, deadline_ms))
        else:
            waiting = WAITING[step.kind]
            answered = step.state_from in waiting and step.state_to not in waiting
            self.moves.append({"root": step.root, "st": step.state_to, "now": now_ms,
                               "ans": now_ms if answered else None})
        ev.append({"t": now_ms, "type": "workflow.transition", "case_id": step.root,
                   "message_id": env.message_id.hex(), "state_to": step.state_to,
                   **({"state_from": step.state_from} if step.state_from else {})})

    def flush(self) -> None:
        if self.new:
            self.store._insert_rows(self.c, case_items, self.NEW_COLUMNS, self.new)
        if self.moves:
            # New items first: a reply in the same batch may move an item just opened.
            self.c.execute(_MOVE, self.moves)
        self.new, self.moves = [], []


def deadline_for(env: Incoming, now_ms: int,
                 hours: dict[str, dict[int, float]] | None = None) -> int:
    """The default answer deadline of a new item: by root type and priority."""
    table = (hours or DEFAULT_DEADLINE_HOURS).get(_type_slug(env.message_type), {})
    h = table.get(env.priority) or table.get(1) or 72
    return now_ms + int(h * 3600_000)


def _type_slug(message_type: int) -> str:
    try:
        return MessageType(message_type).slug
    except ValueError:
        return "unknown"


class CasesMixin(StoreBase):
    """Reading cases and their items."""

    def case_state(self, root_id: str) -> tuple[str, str] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(case_items.c.kind, case_items.c.state).where(
                case_items.c.root_id == root_id)).first()
        return (row.kind, row.state) if row else None

    def replies_to(self, message_id_hex: str, message_type: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [_plain_row(r) for r in c.execute(
                sa.select(envelopes.c.raw, envelopes.c.sender, envelopes.c.stored_at_ms,
                          envelopes.c.shredded_at_ms, content_keys.c.key)
                .outerjoin(content_keys, content_keys.c.envelope_id == envelopes.c.id)
                .where(envelopes.c.in_reply_to == message_id_hex,
                       envelopes.c.message_type == message_type,
                       envelopes.c.shredded_at_ms.is_(None))
                .order_by(envelopes.c.id))]

    def cases(self, *, limit: int = 500) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(case_items).order_by(case_items.c.created_ms.desc()).limit(limit))]

    def cases_between(self, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(case_items).where(case_items.c.created_ms >= start_ms,
                                            case_items.c.created_ms < end_ms))]
