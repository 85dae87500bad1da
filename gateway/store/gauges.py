"""Gauges: what the store holds right now, counted for the metrics endpoint.

One read-only snapshot (one connection) per scrape: messages by type, direction and state,
the queue per peer with its oldest entry, the audit log's size and latest checkpoint, each
peer's latest cosignature of our log, alerts by kind and the overdue case items. Only counts
and times: no ids, names or content leave here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.protocol.workflow import WAITING
from gateway.store.engine import StoreBase
from gateway.store.tables import (
    audit_alerts,
    audit_checkpoints,
    audit_leaves,
    case_items,
    envelopes,
    inbox,
    outbox,
    witnessed_by,
)

__all__ = ["GaugesMixin"]


class GaugesMixin(StoreBase):
    """``metrics_snapshot``: the counts behind the gauges of ``gateway.node.metrics``."""

    def metrics_snapshot(self, now_ms: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with self.engine.connect() as c:
            msgs: list[tuple[str, int, str, int]] = []
            for mtype, state, n in c.execute(
                    sa.select(envelopes.c.message_type, outbox.c.state, sa.func.count())
                    .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
                    .group_by(envelopes.c.message_type, outbox.c.state)):
                msgs.append(("out", int(mtype), str(state), int(n)))
            state_in = sa.case((envelopes.c.shredded_at_ms.is_not(None), "shredded"),
                               (inbox.c.opened_at_ms.is_not(None), "opened"),
                               else_="unopened")
            for mtype, state, n in c.execute(
                    sa.select(envelopes.c.message_type, state_in, sa.func.count())
                    .join(envelopes, envelopes.c.id == inbox.c.envelope_id)
                    .group_by(envelopes.c.message_type, state_in)):
                msgs.append(("in", int(mtype), str(state), int(n)))
            out["messages"] = msgs
            out["queue"] = {str(peer): (int(n), int(oldest)) for peer, n, oldest in c.execute(
                sa.select(outbox.c.peer, sa.func.count(), sa.func.min(envelopes.c.stored_at_ms))
                .join(envelopes, envelopes.c.id == outbox.c.envelope_id)
                .where(outbox.c.state == "queued").group_by(outbox.c.peer))}
            out["audit_size"] = int(c.execute(
                sa.select(sa.func.count()).select_from(audit_leaves)).scalar() or 0)
            out["checkpoint_ms"] = c.execute(
                sa.select(sa.func.max(audit_checkpoints.c.created_ms))).scalar()
            out["cosigned"] = {str(p): (int(size), int(t)) for p, size, t in c.execute(
                sa.select(witnessed_by.c.peer, witnessed_by.c.size, witnessed_by.c.updated_ms))}
            out["alerts"] = {str(k): int(n) for k, n in c.execute(
                sa.select(audit_alerts.c.kind, sa.func.count()).group_by(audit_alerts.c.kind))}
            waiting = sa.or_(*(sa.and_(case_items.c.kind == kind,
                                       case_items.c.state.in_(sorted(states)))
                               for kind, states in WAITING.items()))
            out["overdue"] = {str(k): int(n) for k, n in c.execute(
                sa.select(case_items.c.kind, sa.func.count())
                .where(waiting, case_items.c.deadline_ms < now_ms)
                .group_by(case_items.c.kind))}
        return out
