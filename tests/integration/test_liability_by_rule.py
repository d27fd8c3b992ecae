"""Commission liability against the rule applied deal by deal, at every date and size limit.

commission_liability prices deals in groups (those passing the same structure limits); the
expected figures here come from isv.services.commissions.applicable_structure on each deal,
with deals placed on, just before and just after every limit.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from isv.analytics.partners import (
    LATER,
    SLIPPED,
    UNDATED,
    commission_liability,
    liability_quarters,
)
from isv.models import Partner
from isv.services.commissions import applicable_structure
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of

D = Decimal
AS_OF = date(2026, 11, 20)
DAYS = (None, date(2026, 11, 1), AS_OF, date(2026, 12, 31), date(2027, 1, 1),
        date(2027, 2, 28), date(2027, 3, 1), date(2027, 3, 14), date(2027, 3, 15),
        date(2028, 1, 1))
VALUES = ("19999.99", "20000.00", "20000.01", "49999.99", "50000.00", "60000.00", "60000.01")
CHANCE = {"Ending": D("25"), "Starting": D("40")}


def _key(expected: date | None) -> str:
    if expected is None:
        return UNDATED
    if expected < AS_OF:
        return SLIPPED
    for quarter in liability_quarters(AS_OF):
        if expected in quarter:
            return quarter.label
    return LATER


def test_every_open_deal_is_priced_by_the_structure_the_rule_picks_for_it(session):
    vp = viewer_of(make_user(session, role="vp"))
    ending = make_partner(session, name="Ending", domain="FinOps")
    starting = make_partner(session, name="Starting", domain="Security")
    structures = {
        ending.id: [
            make_structure(session, ending, commission_percentage=D("10"),
                           effective_from=date(2025, 1, 1), effective_to=date(2026, 12, 31)),
            make_structure(session, ending, commission_percentage=D("11"),
                           effective_from=date(2025, 6, 1), effective_to=AS_OF,
                           max_deal_size=D("30000"), structure_type="reseller"),
            make_structure(session, ending, commission_percentage=D("12"),
                           effective_from=date(2027, 1, 1), structure_type="msp"),
            make_structure(session, ending, commission_percentage=D("30"),
                           effective_from=date(2025, 1, 1), min_deal_size=D("50000"),
                           max_deal_size=D("60000")),
        ],
        starting.id: [
            make_structure(session, starting, commission_percentage=D("8"),
                           effective_from=AS_OF, effective_to=date(2027, 2, 28),
                           max_deal_size=D("20000")),
            make_structure(session, starting, commission_percentage=D("9"),
                           effective_from=date(2027, 3, 15), min_deal_size=D("20000.01")),
        ],
    }
    own = make_structure(session, starting, commission_percentage=D("20"),
                         effective_from=date(2030, 1, 1), structure_type="reseller")
    expected = {key: [0, D(0), D(0), 0, D(0)]
                for key in (SLIPPED, *(q.label for q in liability_quarters(AS_OF)), LATER,
                            UNDATED)}
    by_partner: dict = {}
    partner: Partner
    for partner, day, value in itertools.product((ending, starting), DAYS, VALUES):
        # One chance per partner: deals on either side of a limit would be grouped
        # together if the limit were missed.
        chance = CHANCE[partner.name]
        mine = own if (partner is starting and value == "20000.00") else None
        make_opportunity(session, partner, stage="proposal", deal_value=D(value),
                         probability=chance, expected_close_date=day,
                         commission_structure_id=mine.id if mine else None)
        key = _key(day)
        chosen = mine or applicable_structure(
            structures[partner.id], deal_value=D(value),
            close_date=day if key not in (SLIPPED, UNDATED) else AS_OF)
        weighted = D(value) * chance / 100
        cell = expected[key]
        cell[0] += 1
        cell[1] += weighted
        if chosen is None:
            cell[3] += 1
            cell[4] += weighted
        else:
            cell[2] += weighted * chosen.commission_percentage / 100
            by_partner[partner.id] = (by_partner.get(partner.id, D(0))
                                      + weighted * chosen.commission_percentage / 100)

    result = commission_liability(session=session, viewer=vp, as_of=AS_OF)

    assert {b.key: [b.count, b.weighted, b.commission, b.unpriced_count, b.unpriced_weighted]
            for b in result.buckets} == expected
    assert result.by_partner == by_partner
    assert any(cell[3] for cell in expected.values())  # some deals fall outside every band
