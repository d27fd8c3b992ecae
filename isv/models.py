"""Every table: the seed's schema plus what the features need (see DESIGN.md, Data).

One file, over 500 lines, because the schema is read as one document, like the seed's:
every table and its constraints in one place, as Alembic's autogenerate compares them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from isv.types import Money, Percent, UTCDateTime, utcnow
from isv.vocabulary import (  # noqa: F401 (re-exported: the models' vocabularies)
    ACTIVITY_TYPES,
    ALERT_ENTITIES,
    ALERT_TYPES,
    CLOSED_STAGES,
    CRM_TOOLS,
    DOMAINS,
    GOAL_TYPES,
    HEALTH,
    OPEN_STAGES,
    PRIORITIES,
    REGISTRATION_STATUSES,
    ROLES,
    STAGES,
    STATUS_STATES,
    STRUCTURE_TYPES,
    TASK_STATUSES,
)

JSONType = JSON().with_variant(JSONB(), "postgresql")

convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=convention)


def _pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, server_default=func.now(), nullable=False)


def _updated() -> Mapped[datetime]:
    return mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=func.now(), nullable=False
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[uuid.UUID] = _pk()
    email: Mapped[str] = mapped_column(String(255), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(50))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    password_hash: Mapped[str | None] = mapped_column(String(100))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_login_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class UserSession(Base):
    """A signed-in browser: lets us expire, cap and revoke what the auth cookie cannot."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))


class LoginTicket(Base):
    """A one-time pass from a form login to the route that sets the HttpOnly cookie.

    In the database, not in memory: the browser's request may reach another replica.
    """

    __tablename__ = "login_tickets"

    id: Mapped[uuid.UUID] = _pk()
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class ApiRefreshToken(Base):
    """One refresh token of the REST API, stored hashed; its family is one API sign-in.

    Each refresh uses the token up and issues the next one in the same family; a used token
    presented again means it was copied, so the whole family is revoked (isv.services.api_auth).
    """

    __tablename__ = "api_refresh_tokens"

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(30))


TOKEN_SCOPES = ("read", "write")


class PersonalAccessToken(Base):
    """A REST API token a user makes for a script: stored hashed, scoped, expiring, revocable.

    Unlike a sign-in (ApiRefreshToken) it needs no password to start and lives up to a year,
    so it carries its own scope (read-only or read-write) and is listed and revoked by its
    owner on the Account page (isv.services.personal_tokens).
    """

    __tablename__ = "personal_access_tokens"
    __table_args__ = (CheckConstraint(_in("scope", TOKEN_SCOPES), name="scope"),)

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(30))


class Partner(Base):
    __tablename__ = "isv_partners"
    __table_args__ = (
        CheckConstraint(_in("relationship_health", HEALTH), name="relationship_health"),
        CheckConstraint(_in("domain", DOMAINS), name="domain"),
        Index("uq_isv_partners_name_lower", func.lower(text("name")), unique=True),
    )

    id: Mapped[uuid.UUID] = _pk()
    name: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(255))
    website: Mapped[str | None] = mapped_column(String(500))
    primary_contact_email: Mapped[str | None] = mapped_column(String(255))
    primary_contact_name: Mapped[str | None] = mapped_column(String(255))
    relationship_health: Mapped[str] = mapped_column(
        String(50), default="healthy", server_default="healthy"
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)
    # The hand-set health label overrides the score's band while health_until is today or
    # later; health_reason says why (isv/rules/health.py, services/health.py).
    health_reason: Mapped[str | None] = mapped_column(String(500))
    health_until: Mapped[date | None] = mapped_column(Date)
    # The program tier (a name from the Settings page's tiers); None: not tiered yet.
    tier: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    owner: Mapped[User | None] = relationship(lazy="joined")

    # Optimistic locking as for deals: a save based on a stale version cannot win.
    __mapper_args__ = {"version_id_col": version}


class PartnerActivity(Base):
    """A touch with a partner: drives relationship health and maintenance alerts."""

    __tablename__ = "partner_activities"
    __table_args__ = (
        CheckConstraint(_in("activity_type", ACTIVITY_TYPES), name="activity_type"),
        Index("ix_partner_activities_partner_date", "partner_id", "occurred_on"),
    )

    id: Mapped[uuid.UUID] = _pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("isv_partners.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    activity_type: Mapped[str] = mapped_column(String(20))
    occurred_on: Mapped[date] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


class PartnerHealthSnapshot(Base):
    """A partner's health score on one day, with its parts: the weekly job's history."""

    __tablename__ = "partner_health_snapshots"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        UniqueConstraint("partner_id", "taken_on", name="uq_partner_health_snapshots_partner_day"),
    )

    id: Mapped[uuid.UUID] = _pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("isv_partners.id", ondelete="CASCADE"))
    taken_on: Mapped[date] = mapped_column(Date)
    score: Mapped[int] = mapped_column(Integer)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = _created()


class RegistrationLink(Base):
    """A partner's link to register deals without an account: a secret, stored hashed.

    The secret is shown once to whoever makes the link; the link stops at its expiry or when
    revoked. `window_start`/`window_count` throttle what arrives through it, in the database
    like the login's failure count, so every replica counts together.
    """

    __tablename__ = "registration_links"

    id: Mapped[uuid.UUID] = _pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("isv_partners.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DealRegistration(Base):
    """A deal a partner registered through its link: pending until approved or rejected.

    `customer_key` and `email_domain` are what the conflict rule compares
    (isv/rules/registration.py), kept so a later arrival finds this one by index; `conflicts`
    lists the records it collided with ({"kind", "id", "reasons"}), found on arrival.
    """

    __tablename__ = "deal_registrations"
    __table_args__ = (
        CheckConstraint(_in("status", REGISTRATION_STATUSES), name="status"),
        CheckConstraint("deal_value >= 0", name="deal_value"),
        Index("idx_deal_registrations_partner_status", "partner_id", "status"),
        Index("idx_deal_registrations_customer_key", "customer_key"),
        Index("idx_deal_registrations_email_domain", "email_domain"),
    )

    id: Mapped[uuid.UUID] = _pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("isv_partners.id", ondelete="CASCADE"))
    link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registration_links.id", ondelete="SET NULL"))
    customer_name: Mapped[str] = mapped_column(String(255))
    customer_key: Mapped[str] = mapped_column(String(255))
    contact_email: Mapped[str] = mapped_column(String(255))
    email_domain: Mapped[str | None] = mapped_column(String(255))
    deal_value: Mapped[Decimal] = mapped_column(Money)
    expected_close_date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    conflicts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    submitted_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    protected_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    partner: Mapped[Partner] = relationship(lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    # Two people deciding at once: the second decision's UPDATE matches no row and fails.
    __mapper_args__ = {"version_id_col": version}


TIER_DECISIONS = ("accepted", "rejected")


class TierReview(Base):
    """A decided tier suggestion: the figures it rested on, who decided, and why.

    One per partner and review quarter: once decided, the partner is not suggested again
    until the next quarter's review.
    """

    __tablename__ = "tier_reviews"
    __table_args__ = (
        CheckConstraint(_in("decision", TIER_DECISIONS), name="decision"),
        UniqueConstraint("partner_id", "quarter", name="uq_tier_reviews_partner_quarter"),
    )

    id: Mapped[uuid.UUID] = _pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("isv_partners.id", ondelete="CASCADE"))
    quarter: Mapped[str] = mapped_column(String(20))
    from_tier: Mapped[str | None] = mapped_column(String(40))
    to_tier: Mapped[str | None] = mapped_column(String(40))
    won_revenue: Mapped[Decimal] = mapped_column(Money)
    won_deals: Mapped[int] = mapped_column(Integer)
    open_pipeline: Mapped[Decimal] = mapped_column(Money)
    decision: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = _created()


class CommissionStructure(Base):
    __tablename__ = "commission_structures"
    __table_args__ = (
        CheckConstraint(_in("structure_type", STRUCTURE_TYPES), name="structure_type"),
        CheckConstraint(
            "commission_percentage >= 0 AND commission_percentage <= 100", name="percentage"
        ),
        CheckConstraint("min_deal_size >= 0", name="min_deal_size"),
        CheckConstraint(
            "max_deal_size IS NULL OR max_deal_size >= min_deal_size", name="deal_size_band"
        ),
        CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="effective_range"
        ),
        UniqueConstraint(
            "partner_id", "structure_type", "effective_from", "min_deal_size",
            name="uq_commission_structures_natural_key",
        ),
    )

    id: Mapped[uuid.UUID] = _pk()
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("isv_partners.id", ondelete="CASCADE"), index=True
    )
    structure_type: Mapped[str] = mapped_column(String(50))
    commission_percentage: Mapped[Decimal] = mapped_column(Percent)
    is_lifetime: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    min_deal_size: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    max_deal_size: Mapped[Decimal | None] = mapped_column(Money)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    # Set: the structure applies only while its partner holds this tier, and then before
    # any structure without one (services/commissions.applicable_structure).
    tier: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = _created()

    __mapper_args__ = {"version_id_col": version}


class Opportunity(Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint(_in("stage", STAGES), name="stage"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability"),
        CheckConstraint("deal_value >= 0", name="deal_value"),
        CheckConstraint(
            "(actual_close_date IS NOT NULL) = (stage IN ('closed_won', 'closed_lost'))",
            name="close_date_matches_stage",
        ),
        Index("idx_opportunities_partner_stage", "partner_id", "stage"),
        Index("idx_opportunities_assigned_user", "assigned_user_id"),
        Index("idx_opportunities_close_date", "expected_close_date"),
        Index("idx_opportunities_actual_close", "actual_close_date"),
        # The grid's default sort and the board's top cards per stage.
        Index("idx_opportunities_updated_at", "updated_at"),
        Index("idx_opportunities_stage_value", "stage", "deal_value"),
    )

    id: Mapped[uuid.UUID] = _pk()
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("isv_partners.id", ondelete="CASCADE"))
    assigned_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    customer_name: Mapped[str] = mapped_column(String(255))
    customer_contact_email: Mapped[str | None] = mapped_column(String(255))
    deal_value: Mapped[Decimal] = mapped_column(Money)
    stage: Mapped[str] = mapped_column(String(50))
    probability: Mapped[Decimal] = mapped_column(Percent, default=Decimal(0), server_default="0")
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    actual_close_date: Mapped[date | None] = mapped_column(Date)
    commission_structure_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("commission_structures.id", ondelete="SET NULL")
    )
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    partner: Mapped[Partner] = relationship(lazy="joined")
    assigned_user: Mapped[User | None] = relationship(foreign_keys=[assigned_user_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])

    # SQLAlchemy adds "AND version = :old" to every UPDATE, so two writers that both
    # passed the service's version check still cannot both win.
    __mapper_args__ = {"version_id_col": version}


class StageHistory(Base):
    __tablename__ = "opportunity_stage_history"
    __table_args__ = (
        CheckConstraint(_in("to_stage", STAGES), name="to_stage"),
        CheckConstraint(f"from_stage IS NULL OR {_in('from_stage', STAGES)}", name="from_stage"),
        Index("idx_stage_history_opportunity", "opportunity_id", "changed_at"),
    )

    id: Mapped[uuid.UUID] = _pk()
    opportunity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE")
    )
    from_stage: Mapped[str | None] = mapped_column(String(50))
    to_stage: Mapped[str] = mapped_column(String(50))
    changed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    changed_at: Mapped[datetime] = _created()
    notes: Mapped[str | None] = mapped_column(Text)
    synthesized: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class WeeklyStatus(Base):
    __tablename__ = "weekly_status"
    __table_args__ = (
        UniqueConstraint("user_id", "week_start_date", name="uq_weekly_status_user_week"),
        CheckConstraint(_in("state", STATUS_STATES), name="state"),
        Index("idx_weekly_status_user_date", "user_id", "week_start_date"),
    )

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    week_start_date: Mapped[date] = mapped_column(Date)
    accomplishments: Mapped[str | None] = mapped_column(Text)
    upcoming_tasks: Mapped[str | None] = mapped_column(Text)
    blockers: Mapped[str | None] = mapped_column(Text)
    kpi_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        CheckConstraint("rollover_count >= 0", name="rollover_count"),
        Index("idx_tasks_user_status", "user_id", "status"),
    )

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(20), default="medium", server_default="medium")
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    due_date: Mapped[date | None] = mapped_column(Date)
    completed_date: Mapped[date | None] = mapped_column(Date)
    rolled_over_from: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="SET NULL"), unique=True
    )
    rollover_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class QuarterlyGoal(Base):
    __tablename__ = "quarterly_goals"
    __table_args__ = (
        CheckConstraint("quarter >= 1 AND quarter <= 4", name="quarter"),
        CheckConstraint(_in("goal_type", GOAL_TYPES), name="goal_type"),
        CheckConstraint("revenue_target >= 0", name="revenue_target"),
        UniqueConstraint(
            "user_id", "quarter", "year", "goal_type", name="uq_quarterly_goals_user_period_type"
        ),
    )

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    quarter: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    revenue_target: Mapped[Decimal] = mapped_column(Money)
    current_progress: Mapped[Decimal] = mapped_column(
        Money, default=Decimal(0), server_default="0"
    )
    goal_type: Mapped[str] = mapped_column(String(50), default="revenue", server_default="revenue")
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_in("alert_type", ALERT_TYPES), name="alert_type"),
        CheckConstraint(_in("entity_type", ALERT_ENTITIES), name="entity_type"),
        CheckConstraint(_in("priority", PRIORITIES), name="priority"),
        Index("idx_alerts_user_read", "user_id", "is_read"),
    )

    id: Mapped[uuid.UUID] = _pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    alert_type: Mapped[str] = mapped_column(String(50))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    message: Mapped[str] = mapped_column(Text)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    priority: Mapped[str] = mapped_column(String(20), default="medium", server_default="medium")
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = _created()


class AuditEntry(Base):
    """Who did what to which record, with the values before and after; every login too."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("idx_audit_entity", "entity_type", "entity_id"),
        Index("idx_audit_at", "at"),
    )

    id: Mapped[uuid.UUID] = _pk()
    at: Mapped[datetime] = _created()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_email: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(50))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


# --- scheduler and alert bookkeeping (scheduler/, services/alerts.py, services/jobs.py) ---

JOB_OUTCOMES = ("running", "ok", "failed")


class AlertCondition(Base):
    """A condition an alert rule has raised once (its key names the episode, see
    services/alerts.py): kept when the alerts are read or deleted, so a deleted alert does
    not come back on the next run."""

    __tablename__ = "alert_conditions"
    __table_args__ = (CheckConstraint(_in("alert_type", ALERT_TYPES), name="alert_type"),)

    id: Mapped[uuid.UUID] = _pk()
    key: Mapped[str] = mapped_column(String(200), unique=True)
    alert_type: Mapped[str] = mapped_column(String(50))
    raised_at: Mapped[datetime] = _created()


class JobRun(Base):
    """One run of a scheduled job: who ran it, how long it took, what it did or why it failed."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(_in("outcome", JOB_OUTCOMES), name="outcome"),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_ms"),
        Index("idx_job_runs_job_started", "job_name", "started_at"),
    )

    id: Mapped[uuid.UUID] = _pk()
    job_name: Mapped[str] = mapped_column(String(50))
    instance_id: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20), default="running",
                                         server_default="running")
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    # The process running it and its lease: a run whose process is gone, or that has not
    # renewed its lease, was cut off (services/jobs.py close_abandoned_runs).
    hostname: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SchedulerLeader(Base):
    """The scheduler instance holding the leader lock, and its heartbeat: a single row."""

    __tablename__ = "scheduler_leader"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    instance_id: Mapped[str] = mapped_column(String(100))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportMapping(Base):
    """How another CRM's export maps onto our opportunities, saved by name for its next import.

    Columns and stages are JSON (field → their header, their stage → ours): their names are
    the tool's and the team's, not ours to enumerate in a schema.
    """

    __tablename__ = "import_mappings"
    __table_args__ = (
        CheckConstraint(_in("tool", CRM_TOOLS), name="tool"),
        UniqueConstraint("tool", "name", name="uq_import_mappings_tool_name"),
    )

    id: Mapped[uuid.UUID] = _pk()
    tool: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    columns: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stages: Mapped[dict[str, Any]] = mapped_column(JSONType)
    partner: Mapped[str | None] = mapped_column(String(255))
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = _updated()


class AppSetting(Base):
    """One setting changed on the Settings page (services/settings.py), as JSON text.

    A row per setting rather than one wide row: a setting nobody has saved has no row and
    keeps following the environment (isv/config.py), and a new setting needs no migration.
    """

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = _updated()
