"""deal registration: partners' registration links and the deals registered through them

Revision ID: f3a8d1c6b2e7
Revises: e5a9c3d7b1f4
Create Date: 2026-12-03 14:00:00

Two new tables, and the alerts' CHECK constraints widened for the new alert type
(deal_registration) and entity (registration). SQLite cannot alter a CHECK constraint: batch
mode rebuilds alerts and alert_conditions with the new one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import isv.types

revision: str = "f3a8d1c6b2e7"
down_revision: str | None = "e5a9c3d7b1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = "'opportunity_due', 'relationship_maintenance', 'goal_milestone', 'task_overdue'"
NEW_TYPES = f"{OLD_TYPES}, 'deal_registration'"
OLD_ENTITIES = "'opportunity', 'partner', 'task', 'goal'"
NEW_ENTITIES = f"{OLD_ENTITIES}, 'registration'"


def _checks(types: str, entities: str) -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint(op.f("ck_alerts_alert_type"), type_="check")
        batch.drop_constraint(op.f("ck_alerts_entity_type"), type_="check")
        batch.create_check_constraint(op.f("ck_alerts_alert_type"),
                                      sa.text(f"alert_type IN ({types})"))
        batch.create_check_constraint(op.f("ck_alerts_entity_type"),
                                      sa.text(f"entity_type IN ({entities})"))
    with op.batch_alter_table("alert_conditions") as batch:
        batch.drop_constraint(op.f("ck_alert_conditions_alert_type"), type_="check")
        batch.create_check_constraint(op.f("ck_alert_conditions_alert_type"),
                                      sa.text(f"alert_type IN ({types})"))


def upgrade() -> None:
    op.create_table(
        "registration_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("expires_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Uuid(), nullable=True),
        sa.Column("last_used_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_start", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["isv_partners.id"],
            name=op.f("fk_registration_links_partner_id_isv_partners"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"],
            name=op.f("fk_registration_links_created_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"],
            name=op.f("fk_registration_links_revoked_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_registration_links_token_hash")),
    )
    op.create_index("ix_registration_links_partner_id", "registration_links", ["partner_id"])
    op.create_table(
        "deal_registrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("link_id", sa.Uuid(), nullable=True),
        sa.Column("customer_name", sa.String(length=255), nullable=False),
        sa.Column("customer_key", sa.String(length=255), nullable=False),
        sa.Column("contact_email", sa.String(length=255), nullable=False),
        sa.Column("email_domain", sa.String(length=255), nullable=True),
        sa.Column("deal_value", isv.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("conflicts",
                  sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                  nullable=False),
        sa.Column("submitted_at", isv.types.UTCDateTime(timezone=True),
                  server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("expires_at", isv.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("reject_reason", sa.String(length=500), nullable=True),
        sa.Column("protected_until", isv.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opportunity_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'expired')",
                           name=op.f("ck_deal_registrations_status")),
        sa.CheckConstraint("deal_value >= 0", name=op.f("ck_deal_registrations_deal_value")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["isv_partners.id"],
            name=op.f("fk_deal_registrations_partner_id_isv_partners"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["link_id"], ["registration_links.id"],
            name=op.f("fk_deal_registrations_link_id_registration_links"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"],
            name=op.f("fk_deal_registrations_decided_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"], ["opportunities.id"],
            name=op.f("fk_deal_registrations_opportunity_id_opportunities"),
            ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_registrations")),
    )
    op.create_index("idx_deal_registrations_partner_status", "deal_registrations",
                    ["partner_id", "status"])
    op.create_index("idx_deal_registrations_customer_key", "deal_registrations",
                    ["customer_key"])
    op.create_index("idx_deal_registrations_email_domain", "deal_registrations",
                    ["email_domain"])
    _checks(NEW_TYPES, NEW_ENTITIES)


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE alert_type = 'deal_registration' "
               "OR entity_type = 'registration'")
    op.execute("DELETE FROM alert_conditions WHERE alert_type = 'deal_registration'")
    _checks(OLD_TYPES, OLD_ENTITIES)
    op.drop_table("deal_registrations")
    op.drop_table("registration_links")
