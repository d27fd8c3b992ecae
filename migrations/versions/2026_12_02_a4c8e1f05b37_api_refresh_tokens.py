"""api refresh tokens: the REST API's sign-ins, stored hashed, rotated, revocable by family

Revision ID: a4c8e1f05b37
Revises: 9b1f4d6e2a70
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import isv.types

revision: str = "a4c8e1f05b37"
down_revision: str | None = "9b1f4d6e2a70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("expires_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_api_refresh_tokens_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_refresh_tokens_token_hash")),
    )
    op.create_index("ix_api_refresh_tokens_user_id", "api_refresh_tokens", ["user_id"])
    op.create_index("ix_api_refresh_tokens_family_id", "api_refresh_tokens", ["family_id"])


def downgrade() -> None:
    op.drop_table("api_refresh_tokens")
