"""partner health: the hand-set label's reason and expiry, and weekly score snapshots

Revision ID: e5a9c3d7b1f4
Revises: 6c1e9a47b2d8
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import isv.types

revision: str = "e5a9c3d7b1f4"
down_revision: str | None = "6c1e9a47b2d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("isv_partners", sa.Column("health_reason", sa.String(length=500),
                                            nullable=True))
    op.add_column("isv_partners", sa.Column("health_until", sa.Date(), nullable=True))
    op.create_table(
        "partner_health_snapshots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("parts",
                  sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("created_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 100",
                           name=op.f("ck_partner_health_snapshots_score")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["isv_partners.id"],
            name=op.f("fk_partner_health_snapshots_partner_id_isv_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_health_snapshots")),
        sa.UniqueConstraint("partner_id", "taken_on",
                            name="uq_partner_health_snapshots_partner_day"),
    )


def downgrade() -> None:
    op.drop_table("partner_health_snapshots")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would lose the partner-name index.
    op.drop_column("isv_partners", "health_until")
    op.drop_column("isv_partners", "health_reason")
