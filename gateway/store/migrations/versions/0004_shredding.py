"""Storage keys per envelope (crypto-shredding at the end of retention).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("envelopes", sa.Column("shredded_at_ms", sa.BigInteger, nullable=True))
    op.create_table(
        "content_keys",
        sa.Column("envelope_id", sa.BigInteger, sa.ForeignKey("envelopes.id"), primary_key=True,
                  autoincrement=False),
        sa.Column("key", sa.LargeBinary(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("content_keys")
    op.drop_column("envelopes", "shredded_at_ms")
