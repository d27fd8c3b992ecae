"""personal access tokens: a user's REST API tokens for scripts, stored hashed, scoped, expiring

Revision ID: d2b7e4a1c9f3
Revises: a4c8e1f05b37
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import isv.types

revision: str = "d2b7e4a1c9f3"
down_revision: str | None = "a4c8e1f05b37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("expires_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=30), nullable=True),
        sa.CheckConstraint("scope IN ('read', 'write')",
                           name=op.f("ck_personal_access_tokens_scope")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_personal_access_tokens_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_access_tokens_token_hash")),
    )
    op.create_index("ix_personal_access_tokens_user_id", "personal_access_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("personal_access_tokens")
