"""partner and commission structure versions: optimistic locking as for deals

A save based on what someone else has changed since is refused ("changed by X at T")
instead of silently overwriting it (issue 18 #1). Existing rows start at version 1.

Revision ID: 5e7c2a91d4b3
Revises: c0564b64a21e
Create Date: 2026-12-02 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e7c2a91d4b3"
down_revision: str | None = "c0564b64a21e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("isv_partners", "commission_structures"):
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False,
                                       server_default="1"))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch table copy: the copy would lose the
    # expression index on partner names, which SQLite cannot reflect.
    for table in ("commission_structures", "isv_partners"):
        op.drop_column(table, "version")
