"""Money is exact on both databases, in rows and in SQL sums."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from isv.models import Opportunity
from tests.factories import make_opportunity, make_partner


def test_sum_of_cents_in_sql_is_exact(session):
    partner = make_partner(session)
    values = [Decimal("0.10"), Decimal("0.20"), Decimal("1234567890.01"), Decimal("0.07")] * 25
    for v in values:
        make_opportunity(session, partner, deal_value=v)
    total = session.scalar(select(func.sum(Opportunity.deal_value))
                           .where(Opportunity.partner_id == partner.id))
    assert Decimal(total) == sum(values) == Decimal("30864197259.50")


def test_a_stored_amount_reads_back_unchanged(session):
    opp = make_opportunity(session, make_partner(session), deal_value=Decimal("9999999999.99"),
                           probability=Decimal("12.35"))
    session.expire_all()
    again = session.get(Opportunity, opp.id)
    assert again.deal_value == Decimal("9999999999.99")
    assert again.probability == Decimal("12.35")
