"""scheduler: job runs, the leader heartbeat, raised alert conditions

Revision ID: a98e6d4ee950
Revises: 48485be5c399
Create Date: 2026-11-27 06:24:57.247565

Three new tables, nothing else touched:
- alert_conditions: each condition an alert rule has raised (its key names the episode), kept
  when the alerts themselves are read or deleted so a deleted alert does not come back;
- job_runs: one row per scheduled job run (instance, timing, outcome, counts, error);
- scheduler_leader: the single row naming the scheduler instance that holds the leader lock.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import isv.types

revision: str = "a98e6d4ee950"
down_revision: str | None = "48485be5c399"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_conditions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("alert_type", sa.String(length=50), nullable=False),
        sa.Column(
            "raised_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "alert_type IN ('opportunity_due', 'relationship_maintenance', 'goal_milestone', 'task_overdue')",
            name=op.f("ck_alert_conditions_alert_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_conditions")),
        sa.UniqueConstraint("key", name=op.f("uq_alert_conditions_key")),
    )

    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_name", sa.String(length=50), nullable=False),
        sa.Column("instance_id", sa.String(length=100), nullable=False),
        sa.Column("started_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), server_default="running", nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'ok', 'failed')", name=op.f("ck_job_runs_outcome")
        ),
        sa.CheckConstraint(
            "duration_ms IS NULL OR duration_ms >= 0", name=op.f("ck_job_runs_duration_ms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(
        "idx_job_runs_job_started", "job_runs", ["job_name", "started_at"], unique=False
    )

    op.create_table(
        "scheduler_leader",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("instance_id", sa.String(length=100), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_scheduler_leader_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_leader")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_leader")
    op.drop_index("idx_job_runs_job_started", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("alert_conditions")
