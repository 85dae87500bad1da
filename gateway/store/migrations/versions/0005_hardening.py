"""Hardening: users can be disabled; the trust directories accepted are remembered.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at_ms", sa.BigInteger, nullable=True))
    op.create_table(
        "directory_history",
        sa.Column("serial", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("accepted_at_ms", sa.BigInteger, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("directory_history")
    op.drop_column("users", "disabled_at_ms")
