"""Idempotency keys: the officer requests that created something, by user and key hash.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user", sa.String(64), primary_key=True),
        sa.Column("key_sha256", sa.LargeBinary(32), primary_key=True),
        sa.Column("request_hmac", sa.LargeBinary(32), nullable=False),
        sa.Column("message_id", sa.LargeBinary(16), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("answer", sa.LargeBinary, nullable=False),
        sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at_ms", "idempotency_keys", ["created_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at_ms", "idempotency_keys")
    op.drop_table("idempotency_keys")
