"""initial schema

Revision ID: 48485be5c399
Revises:
Create Date: 2026-11-27 05:51:10.527150
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import isv.types

revision: str = "48485be5c399"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("password_hash", sa.String(length=100), nullable=True),
        sa.Column("last_login_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_login_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_login_window_start", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('vp', 'sales_manager', 'partnership_manager', 'admin')",
            name=op.f("ck_users_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("alert_type", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("is_read", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("priority", sa.String(length=20), server_default="medium", nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "alert_type IN ('opportunity_due', 'relationship_maintenance', 'goal_milestone', 'task_overdue')",
            name=op.f("ck_alerts_alert_type"),
        ),
        sa.CheckConstraint(
            "entity_type IN ('opportunity', 'partner', 'task', 'goal')",
            name=op.f("ck_alerts_entity_type"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high', 'urgent')", name=op.f("ck_alerts_priority")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alerts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_alerts_dedupe_key")),
    )
    op.create_index("idx_alerts_user_read", "alerts", ["user_id", "is_read"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_email", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column(
            "old_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "new_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("idx_audit_at", "audit_log", ["at"], unique=False)
    op.create_index("idx_audit_entity", "audit_log", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "isv_partners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("primary_contact_email", sa.String(length=255), nullable=True),
        sa.Column("primary_contact_name", sa.String(length=255), nullable=True),
        sa.Column(
            "relationship_health", sa.String(length=50), server_default="healthy", nullable=False
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "domain IN ('FinOps', 'Security', 'Observability', 'DevOps', 'Data/Backup')",
            name=op.f("ck_isv_partners_domain"),
        ),
        sa.CheckConstraint(
            "relationship_health IN ('excellent', 'healthy', 'needs_attention', 'at_risk')",
            name=op.f("ck_isv_partners_relationship_health"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_isv_partners_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_isv_partners")),
    )
    op.create_index("ix_isv_partners_owner_id", "isv_partners", ["owner_id"], unique=False)
    # Partner names are the import key, matched case-insensitively.
    op.create_index(
        "uq_isv_partners_name_lower", "isv_partners", [sa.text("lower(name)")], unique=True
    )

    op.create_table(
        "quarterly_goals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("revenue_target", isv.types.Money(precision=12, scale=2), nullable=False),
        sa.Column(
            "current_progress",
            isv.types.Money(precision=12, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("goal_type", sa.String(length=50), server_default="revenue", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "goal_type IN ('revenue', 'opportunities', 'partnerships')",
            name=op.f("ck_quarterly_goals_goal_type"),
        ),
        sa.CheckConstraint(
            "quarter >= 1 AND quarter <= 4", name=op.f("ck_quarterly_goals_quarter")
        ),
        sa.CheckConstraint("revenue_target >= 0", name=op.f("ck_quarterly_goals_revenue_target")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_quarterly_goals_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarterly_goals")),
        sa.UniqueConstraint(
            "user_id", "quarter", "year", "goal_type", name="uq_quarterly_goals_user_period_type"
        ),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("last_seen_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"], unique=False)

    op.create_table(
        "weekly_status",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("week_start_date", sa.Date(), nullable=False),
        sa.Column("accomplishments", sa.Text(), nullable=True),
        sa.Column("upcoming_tasks", sa.Text(), nullable=True),
        sa.Column("blockers", sa.Text(), nullable=True),
        sa.Column(
            "kpi_metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("state", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("submitted_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("state IN ('draft', 'submitted')", name=op.f("ck_weekly_status_state")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_weekly_status_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_status")),
        sa.UniqueConstraint("user_id", "week_start_date", name="uq_weekly_status_user_week"),
    )
    op.create_index(
        "idx_weekly_status_user_date", "weekly_status", ["user_id", "week_start_date"], unique=False
    )

    op.create_table(
        "commission_structures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("structure_type", sa.String(length=50), nullable=False),
        sa.Column("commission_percentage", isv.types.Percent(precision=5, scale=2), nullable=False),
        sa.Column("is_lifetime", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column(
            "min_deal_size",
            isv.types.Money(precision=12, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("max_deal_size", isv.types.Money(precision=12, scale=2), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "structure_type IN ('referral', 'msp', 'reseller')",
            name=op.f("ck_commission_structures_structure_type"),
        ),
        sa.CheckConstraint(
            "commission_percentage >= 0 AND commission_percentage <= 100",
            name=op.f("ck_commission_structures_percentage"),
        ),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from",
            name=op.f("ck_commission_structures_effective_range"),
        ),
        sa.CheckConstraint(
            "max_deal_size IS NULL OR max_deal_size >= min_deal_size",
            name=op.f("ck_commission_structures_deal_size_band"),
        ),
        sa.CheckConstraint(
            "min_deal_size >= 0", name=op.f("ck_commission_structures_min_deal_size")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["isv_partners.id"],
            name=op.f("fk_commission_structures_partner_id_isv_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_structures")),
        sa.UniqueConstraint(
            "partner_id",
            "structure_type",
            "effective_from",
            "min_deal_size",
            name="uq_commission_structures_natural_key",
        ),
    )
    op.create_index(
        "ix_commission_structures_partner_id", "commission_structures", ["partner_id"], unique=False
    )

    op.create_table(
        "partner_activities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("activity_type", sa.String(length=20), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "activity_type IN ('call', 'meeting', 'email', 'qbr', 'event', 'other')",
            name=op.f("ck_partner_activities_activity_type"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["isv_partners.id"],
            name=op.f("fk_partner_activities_partner_id_isv_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_partner_activities_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_activities")),
    )
    op.create_index(
        "ix_partner_activities_partner_date",
        "partner_activities",
        ["partner_id", "occurred_on"],
        unique=False,
    )

    op.create_table(
        "opportunities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("assigned_user_id", sa.Uuid(), nullable=True),
        sa.Column("customer_name", sa.String(length=255), nullable=False),
        sa.Column("customer_contact_email", sa.String(length=255), nullable=True),
        sa.Column("deal_value", isv.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column(
            "probability",
            isv.types.Percent(precision=5, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("actual_close_date", sa.Date(), nullable=True),
        sa.Column("commission_structure_id", sa.Uuid(), nullable=True),
        sa.Column("lost_reason", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(actual_close_date IS NOT NULL) = (stage IN ('closed_won', 'closed_lost'))",
            name=op.f("ck_opportunities_close_date_matches_stage"),
        ),
        sa.CheckConstraint(
            "stage IN ('lead', 'demo', 'poc', 'proposal', 'closed_won', 'closed_lost')",
            name=op.f("ck_opportunities_stage"),
        ),
        sa.CheckConstraint("deal_value >= 0", name=op.f("ck_opportunities_deal_value")),
        sa.CheckConstraint(
            "probability >= 0 AND probability <= 100", name=op.f("ck_opportunities_probability")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"],
            ["users.id"],
            name=op.f("fk_opportunities_assigned_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["commission_structure_id"],
            ["commission_structures.id"],
            name=op.f("fk_opportunities_commission_structure_id_commission_structures"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["isv_partners.id"],
            name=op.f("fk_opportunities_partner_id_isv_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_opportunities_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
        sa.UniqueConstraint("external_id", name=op.f("uq_opportunities_external_id")),
    )
    op.create_index(
        "idx_opportunities_actual_close", "opportunities", ["actual_close_date"], unique=False
    )
    op.create_index(
        "idx_opportunities_assigned_user", "opportunities", ["assigned_user_id"], unique=False
    )
    op.create_index(
        "idx_opportunities_close_date", "opportunities", ["expected_close_date"], unique=False
    )
    op.create_index(
        "idx_opportunities_partner_stage", "opportunities", ["partner_id", "stage"], unique=False
    )

    op.create_table(
        "opportunity_stage_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage", sa.String(length=50), nullable=True),
        sa.Column("to_stage", sa.String(length=50), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column(
            "changed_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("synthesized", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.CheckConstraint(
            "from_stage IS NULL OR from_stage IN ('lead', 'demo', 'poc', 'proposal', 'closed_won', 'closed_lost')",
            name=op.f("ck_opportunity_stage_history_from_stage"),
        ),
        sa.CheckConstraint(
            "to_stage IN ('lead', 'demo', 'poc', 'proposal', 'closed_won', 'closed_lost')",
            name=op.f("ck_opportunity_stage_history_to_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
            name=op.f("fk_opportunity_stage_history_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_stage_history_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_stage_history")),
    )
    op.create_index(
        "idx_stage_history_opportunity",
        "opportunity_stage_history",
        ["opportunity_id", "changed_at"],
        unique=False,
    )

    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("priority", sa.String(length=20), server_default="medium", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("completed_date", sa.Date(), nullable=True),
        sa.Column("rolled_over_from", sa.Uuid(), nullable=True),
        sa.Column("rollover_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            isv.types.UTCDateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high', 'urgent')", name=op.f("ck_tasks_priority")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'completed', 'cancelled', 'rolled_over')",
            name=op.f("ck_tasks_status"),
        ),
        sa.CheckConstraint("rollover_count >= 0", name=op.f("ck_tasks_rollover_count")),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_tasks_opportunity_id_opportunities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rolled_over_from"],
            ["tasks.id"],
            name=op.f("fk_tasks_rolled_over_from_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tasks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("rolled_over_from", name=op.f("uq_tasks_rolled_over_from")),
    )
    op.create_index("idx_tasks_user_status", "tasks", ["user_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_tasks_user_status", table_name="tasks")

    op.drop_table("tasks")
    op.drop_index("idx_stage_history_opportunity", table_name="opportunity_stage_history")

    op.drop_table("opportunity_stage_history")
    op.drop_index("idx_opportunities_partner_stage", table_name="opportunities")
    op.drop_index("idx_opportunities_close_date", table_name="opportunities")
    op.drop_index("idx_opportunities_assigned_user", table_name="opportunities")
    op.drop_index("idx_opportunities_actual_close", table_name="opportunities")

    op.drop_table("opportunities")
    op.drop_index("ix_partner_activities_partner_date", table_name="partner_activities")

    op.drop_table("partner_activities")
    op.drop_index("ix_commission_structures_partner_id", table_name="commission_structures")

    op.drop_table("commission_structures")
    op.drop_index("idx_weekly_status_user_date", table_name="weekly_status")

    op.drop_table("weekly_status")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")

    op.drop_table("user_sessions")
    op.drop_table("quarterly_goals")
    op.drop_index("uq_isv_partners_name_lower", table_name="isv_partners")
    op.drop_index("ix_isv_partners_owner_id", table_name="isv_partners")

    op.drop_table("isv_partners")
    op.drop_index("idx_audit_entity", table_name="audit_log")
    op.drop_index("idx_audit_at", table_name="audit_log")

    op.drop_table("audit_log")
    op.drop_index("idx_alerts_user_read", table_name="alerts")

    op.drop_table("alerts")
    op.drop_table("users")
