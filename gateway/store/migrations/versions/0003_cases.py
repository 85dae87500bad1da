"""Case items: the workflow state of requests, handovers and notices.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_items",
        sa.Column("root_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("message_type", sa.SmallInteger, nullable=False),
        sa.Column("root_step", sa.Integer, nullable=False),
        sa.Column("case_reference", sa.String(128), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("counterpart", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("deadline_ms", sa.BigInteger, nullable=False),
        sa.Column("answered_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_case_items_case_reference", "case_items", ["case_reference"])


def downgrade() -> None:
    op.drop_table("case_items")
