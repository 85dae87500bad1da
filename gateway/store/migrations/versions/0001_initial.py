"""Initial schema: envelopes, outbox, inbox, receipts, peer state, nonces, users.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "envelopes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("message_id", sa.LargeBinary(16), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("recipients", sa.String(1100), nullable=False),
        sa.Column("message_type", sa.SmallInteger, nullable=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
        sa.Column("stored_at_ms", sa.BigInteger, nullable=False),
        sa.Column("case_reference", sa.String(128), nullable=False),
        sa.Column("in_reply_to", sa.String(32), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("handling_code", sa.SmallInteger, nullable=False),
        sa.Column("deadline_ms", sa.BigInteger, nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=True),
        sa.UniqueConstraint("sender", "message_id", name="uq_envelopes_sender_message"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("last_error_code", sa.String(32), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
        sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("envelope_id", "peer", name="uq_outbox_envelope_peer"),
    )
    op.create_index("ix_outbox_due", "outbox", ["peer", "state", "priority", "id"])
    op.create_table(
        "inbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False,
                  unique=True),
        sa.Column("received_at_ms", sa.BigInteger, nullable=False),
        sa.Column("opened_at_ms", sa.BigInteger, nullable=True),
        sa.Column("opened_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "receipts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), nullable=False),
        sa.Column("office", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("received_at_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("envelope_id", "office", name="uq_receipts_envelope_office"),
    )
    op.create_table(
        "peer_state",
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("last_success_ms", sa.BigInteger, nullable=True),
        sa.Column("last_failure_ms", sa.BigInteger, nullable=True),
        sa.Column("last_error_code", sa.String(32), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=True),
        sa.Column("clock_skew_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "nonces",
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(32), primary_key=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_nonces_expires_ms", "nonces", ["expires_ms"])
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("users", "nonces", "peer_state", "receipts", "inbox", "outbox", "envelopes"):
        op.drop_table(table)
