"""pipeline sort indexes: the grid's default sort and the board's top cards per stage

Revision ID: c3d1e5f7a9b2
Revises: a98e6d4ee950
Create Date: 2026-11-27 07:35:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c3d1e5f7a9b2"
down_revision: str | None = "a98e6d4ee950"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("idx_opportunities_updated_at", "opportunities", ["updated_at"])
    op.create_index("idx_opportunities_stage_value", "opportunities", ["stage", "deal_value"])


def downgrade() -> None:
    op.drop_index("idx_opportunities_stage_value", table_name="opportunities")
    op.drop_index("idx_opportunities_updated_at", table_name="opportunities")
