"""Small builders for test data: each takes overrides and fills the rest sensibly."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from isv.auth import Viewer, hash_password
from isv.models import (
    CommissionStructure,
    Opportunity,
    Partner,
    QuarterlyGoal,
    StageHistory,
    Task,
    User,
)

_n = itertools.count(1)


def make_user(session: Session, **overrides) -> User:
    n = next(_n)
    password = overrides.pop("password", None)
    values = dict(email=f"user{n}@example.com", first_name="Test", last_name=f"User{n}",
                  role="sales_manager", is_active=True)
    values.update(overrides)
    user = User(**values, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    return user


def viewer_of(user: User) -> Viewer:
    return Viewer.of(user)


def make_partner(session: Session, **overrides) -> Partner:
    n = next(_n)
    values = dict(name=f"Partner {n}", domain="FinOps", relationship_health="healthy")
    values.update(overrides)
    partner = Partner(**values)
    session.add(partner)
    session.flush()
    return partner


def make_structure(session: Session, partner: Partner, **overrides) -> CommissionStructure:
    values = dict(partner_id=partner.id, structure_type="referral",
                  commission_percentage=Decimal("10.00"), min_deal_size=Decimal(0),
                  effective_from=date(2025, 1, 1))
    values.update(overrides)
    row = CommissionStructure(**values)
    session.add(row)
    session.flush()
    return row


def make_opportunity(session: Session, partner: Partner, **overrides) -> Opportunity:
    n = next(_n)
    values = dict(partner_id=partner.id, customer_name=f"Customer {n}",
                  deal_value=Decimal("10000.00"), stage="lead", probability=Decimal(10))
    values.update(overrides)
    opp = Opportunity(**values)
    session.add(opp)
    session.flush()
    session.add(StageHistory(opportunity_id=opp.id, from_stage=None, to_stage=opp.stage,
                             changed_at=opp.created_at))
    session.flush()
    return opp


def make_task(session: Session, user: User, **overrides) -> Task:
    n = next(_n)
    values = dict(user_id=user.id, title=f"Task {n}", priority="medium", status="pending")
    values.update(overrides)
    task = Task(**values)
    session.add(task)
    session.flush()
    return task


def make_goal(session: Session, user: User, **overrides) -> QuarterlyGoal:
    values = dict(user_id=user.id, year=2026, quarter=1, goal_type="revenue",
                  revenue_target=Decimal("100000.00"))
    values.update(overrides)
    goal = QuarterlyGoal(**values)
    session.add(goal)
    session.flush()
    return goal
