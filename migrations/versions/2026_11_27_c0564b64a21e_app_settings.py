"""app settings: what the Settings page changes, one row per saved setting

Revision ID: c0564b64a21e
Revises: c3d1e5f7a9b2
Create Date: 2026-11-27 08:50:00

One new table, nothing else touched. A setting without a row follows the environment
(isv/config.py), so upgrading changes no behaviour until someone saves the Settings page.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import isv.types

revision: str = "c0564b64a21e"
down_revision: str | None = "c3d1e5f7a9b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
