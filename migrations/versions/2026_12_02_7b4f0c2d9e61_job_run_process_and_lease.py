"""job run process and lease: a one-off run killed mid-job no longer stays "running"

Each run records the host and pid running it and a heartbeat it renews while it works; the
scheduler, every one-off run and the System page close a run whose process is gone or whose
lease lapsed (issue 18 #12). Existing rows keep NULLs: their start time stands for the
heartbeat.

Revision ID: 7b4f0c2d9e61
Revises: 5e7c2a91d4b3
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import isv.types

revision: str = "7b4f0c2d9e61"
down_revision: str | None = "5e7c2a91d4b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_runs", sa.Column("hostname", sa.String(255), nullable=True))
    op.add_column("job_runs", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column("job_runs", sa.Column("heartbeat_at", isv.types.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    for column in ("heartbeat_at", "pid", "hostname"):
        op.drop_column("job_runs", column)
