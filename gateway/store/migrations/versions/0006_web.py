"""The web app: sign-in credentials (password hash, sealed TOTP secret) and sessions.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_credentials",
        sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary, nullable=True),
        sa.Column("totp_last_step", sa.BigInteger, nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("blocked_until_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_sha256", sa.LargeBinary(32), primary_key=True),
        sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger, nullable=False),
        sa.Column("ended_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_web_sessions_user_name", "web_sessions", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user_name", "web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_credentials")
