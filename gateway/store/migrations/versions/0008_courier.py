"""Courier bundles: each one written or imported (per peer and direction, by sequence), and the
receipts owed to a peer until its next bundle acknowledges ours, and which queued messages a
bundle already carried.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "courier_bundles",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
        sa.Column("recorded_at_ms", sa.BigInteger, nullable=False),
        sa.Column("envelopes", sa.Integer, nullable=False),
        sa.Column("receipts", sa.Integer, nullable=False),
        sa.UniqueConstraint("direction", "peer", "sequence", name="uq_courier_bundles_seq"),
    )
    op.create_table(
        "courier_owed",
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"),
                  primary_key=True, autoincrement=False),
        sa.Column("since_sequence", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "courier_carried",
        sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("outbox.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("courier_carried")
    op.drop_table("courier_owed")
    op.drop_table("courier_bundles")
