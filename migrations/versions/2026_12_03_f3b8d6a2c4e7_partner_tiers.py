"""partner tiers: the partner's tier, a structure's tier, and decided tier reviews

Revision ID: f3b8d6a2c4e7
Revises: f3a8d1c6b2e7
Create Date: 2026-12-03 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import isv.types

revision: str = "f3b8d6a2c4e7"
down_revision: str | None = "f3a8d1c6b2e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("isv_partners", sa.Column("tier", sa.String(length=40), nullable=True))
    op.add_column("commission_structures",
                  sa.Column("tier", sa.String(length=40), nullable=True))
    op.create_table(
        "tier_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("quarter", sa.String(length=20), nullable=False),
        sa.Column("from_tier", sa.String(length=40), nullable=True),
        sa.Column("to_tier", sa.String(length=40), nullable=True),
        sa.Column("won_revenue", isv.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("won_deals", sa.Integer(), nullable=False),
        sa.Column("open_pipeline", isv.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.CheckConstraint("decision IN ('accepted', 'rejected')",
                           name=op.f("ck_tier_reviews_decision")),
        sa.ForeignKeyConstraint(["partner_id"], ["isv_partners.id"],
                                name=op.f("fk_tier_reviews_partner_id_isv_partners"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"],
                                name=op.f("fk_tier_reviews_decided_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_reviews")),
        sa.UniqueConstraint("partner_id", "quarter", name="uq_tier_reviews_partner_quarter"),
    )


def downgrade() -> None:
    op.drop_table("tier_reviews")
    # Plain DROP COLUMN (SQLite 3.35+), as the health migration: a batch copy would lose
    # the partner-name index.
    op.drop_column("commission_structures", "tier")
    op.drop_column("isv_partners", "tier")
