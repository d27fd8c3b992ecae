"""import mappings: another CRM's column and stage mapping, saved by name on the Import page

Revision ID: 6c1e9a47b2d8
Revises: d2b7e4a1c9f3
Create Date: 2026-12-03 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import isv.types

revision: str = "6c1e9a47b2d8"
down_revision: str | None = "d2b7e4a1c9f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "import_mappings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tool", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("columns", JSON, nullable=False),
        sa.Column("stages", JSON, nullable=False),
        sa.Column("partner", sa.String(length=255), nullable=True),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.CheckConstraint("tool IN ('salesforce', 'hubspot', 'pipedrive')",
                           name=op.f("ck_import_mappings_tool")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"],
            name=op.f("fk_import_mappings_updated_by_id_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mappings")),
        sa.UniqueConstraint("tool", "name", name="uq_import_mappings_tool_name"),
    )


def downgrade() -> None:
    op.drop_table("import_mappings")
