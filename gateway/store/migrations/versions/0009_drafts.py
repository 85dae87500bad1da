"""Web drafts: saved compose forms, sealed at rest under a key of their own.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_drafts",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("recipients", sa.String(400), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("key", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_web_drafts_user_name", "web_drafts", ["user_name"])
    op.create_index("ix_web_drafts_updated_ms", "web_drafts", ["updated_ms"])


def downgrade() -> None:
    op.drop_index("ix_web_drafts_updated_ms", "web_drafts")
    op.drop_index("ix_web_drafts_user_name", "web_drafts")
    op.drop_table("web_drafts")
