"""Another CRM's export mapped onto our opportunities format: columns, stages, cells."""

from __future__ import annotations

import pytest

from isv.models import STAGES
from isv.services import crm_mapping as m
from tests.crm_exports import HEADERS, ROWS, STANDARD

PEOPLE = m.People.of([("owner@example.com", "Olga", "Owner"),
                      ("ann.one@example.com", "Ann", "Same"),
                      ("ann.two@example.com", "Ann", "Same")])
PARTNERS = m.Partners.of([("Ledgerline", "pat@ledgerline.example"), ("Ärzte Netz", None)])


def converted(tool: str, *rows: dict[str, str], stages: dict[str, str] | None = None,
              partner: str | None = None) -> m.Converted:
    header = HEADERS[tool]
    mapping = m.CrmMapping(tool=tool, columns={f: p.source for f, p in
                                               m.propose_columns(tool, header).items()},
                           stages={**m.default_stage_map(tool), **(stages or {})},
                           partner=partner)
    records = [(n, [r.get(h, "") for h in header]) for n, r in enumerate(rows, start=2)]
    return m.convert(mapping, header, records, people=PEOPLE, partners=PARTNERS)


def row_of(result: m.Converted, index: int = 0) -> dict[str, str]:
    return dict(zip(result.header, result.rows[index], strict=True))


@pytest.mark.parametrize("tool", m.TOOLS)
def test_each_tools_standard_columns_are_proposed_without_edits(tool):
    proposals = m.propose_columns(tool, HEADERS[tool])
    proposed = {f: p.source for f, p in proposals.items() if p.source}
    assert proposed == STANDARD[tool]
    assert all(proposals[f].how == "known" for f in STANDARD[tool])


def test_pipedrive_headers_are_known_without_their_deal_prefix_too():
    headers = [h.removeprefix("Deal - ") for h in HEADERS["pipedrive"]]
    proposed = {f: p.source for f, p in m.propose_columns("pipedrive", headers).items()
                if p.source}
    assert proposed == {f: h.removeprefix("Deal - ") for f, h in STANDARD["pipedrive"].items()}


def test_misspelt_headers_are_proposed_by_similarity_with_a_confidence_below_one():
    proposals = m.propose_columns("salesforce", ["Acount Name", "Amnt", "Stage", "Close Dt"])
    assert proposals["customer_name"].source == "Acount Name"
    assert proposals["deal_value"].source == "Amnt"
    assert proposals["expected_close_date"].source == "Close Dt"
    assert proposals["deal_value"].how == "similar"
    assert 0.75 <= proposals["deal_value"].confidence < 1


def test_a_column_unlike_any_field_is_proposed_for_none():
    proposals = m.propose_columns("hubspot", ["Deal Name", "Favourite colour"])
    assert "Favourite colour" not in {p.source for p in proposals.values()}


@pytest.mark.parametrize(("tool", "theirs", "ours"), [
    *[("salesforce", s, o) for s, o in m.DEFAULT_STAGES["salesforce"].items()],
    *[("hubspot", s, o) for s, o in m.DEFAULT_STAGES["hubspot"].items()],
    *[("pipedrive", s, o) for s, o in m.DEFAULT_STAGES["pipedrive"].items()],
])
def test_each_tools_default_stages_map_onto_ours_without_edits(tool, theirs, ours):
    stage_column = STANDARD[tool]["stage"]
    cells = {stage_column: theirs}
    result = converted(tool, ROWS[tool](**cells))
    assert not result.problems
    assert row_of(result)["stage"] == ours


def test_every_salesforce_default_stage_is_listed_and_lands_on_one_of_ours():
    assert list(m.DEFAULT_STAGES["salesforce"]) == [
        "Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
        "Id. Decision Makers", "Perception Analysis", "Proposal/Price Quote",
        "Negotiation/Review", "Closed Won", "Closed Lost"]
    assert set(m.DEFAULT_STAGES["salesforce"].values()) <= set(STAGES)


def test_an_unknown_stage_is_refused_on_its_row_naming_the_stage():
    result = converted("salesforce", ROWS["salesforce"](),
                       ROWS["salesforce"](Stage="Discovery"))
    [problem] = result.problems
    assert (problem.row, problem.column) == (3, "stage")
    assert "'Discovery'" in problem.reason and "stage map" in problem.reason


def test_a_stage_map_entry_of_the_person_maps_their_own_stage():
    result = converted("salesforce", ROWS["salesforce"](Stage="discovery "),
                       stages={"Discovery": "demo"})
    assert not result.problems
    assert row_of(result)["stage"] == "demo"


def test_salesforce_money_dates_and_percentages_are_written_as_ours():
    row = row_of(converted("salesforce", ROWS["salesforce"]()))
    assert row["deal_value"] == "1234.50"
    assert row["probability"] == "10"
    assert row["expected_close_date"] == "2026-03-31"
    assert row["created_at"] == "2026-01-15"
    assert row["external_id"] == "salesforce:0065g00000AbCdE"
    assert row["owner_email"] == "owner@example.com"
    assert row["notes"] == "Acme - 500 seats\n\nWants SSO\n\nNext step: Call the CFO"


def test_a_closed_salesforce_deal_closed_on_its_close_date_and_lost_without_reason_says_so():
    result = converted("salesforce", ROWS["salesforce"](Stage="Closed Lost",
                                                        **{"Close Date": "2/1/2026"}))
    row = row_of(result)
    assert row["stage"] == "closed_lost"
    assert row["actual_close_date"] == "2026-02-01"
    assert row["lost_reason"] == "No reason recorded in Salesforce"
    assert "1 lost deal has no reason" in result.notices[0]


def test_a_day_first_date_is_refused_naming_the_form_expected():
    [problem] = converted("salesforce",
                          ROWS["salesforce"](**{"Close Date": "31/3/2026"})).problems
    assert problem.column == "expected_close_date"
    assert "'31/3/2026'" in problem.reason and "month/day/year" in problem.reason


def test_an_amount_that_is_no_amount_goes_on_unchanged_for_the_importer_to_refuse():
    assert m.money_text("about 5k") == "about 5k"
    assert m.money_text("USD 12,000") == "12000"
    assert m.money_text("1234.5 EUR") == "1234.5"


def test_hubspot_writes_probability_as_a_fraction():
    assert m.percent_text("hubspot", "0.2") == "20"
    assert m.percent_text("hubspot", "35%") == "35"
    assert m.percent_text("salesforce", "0.2") == "0.2"


def test_pipedrive_status_won_and_lost_decide_the_stage():
    won, lost = (row_of(converted("pipedrive", ROWS["pipedrive"](
        **{"Deal - Status": status, "Deal - Stage": "Negotiations Started",
           "Deal - Won time": "2026-02-01 10:00:00" if status == "won" else ""})))
        for status in ("won", "lost"))
    assert won["stage"] == "closed_won" and won["actual_close_date"] == "2026-02-01"
    assert lost["stage"] == "closed_lost"
    assert lost["actual_close_date"] == "2026-03-31"  # no lost time: its expected close date


def test_a_lost_pipedrive_deal_closed_at_its_lost_time_though_won_time_feeds_the_close_date():
    lost = row_of(converted("pipedrive", ROWS["pipedrive"](
        **{"Deal - Status": "lost", "Deal - Lost time": "2026-02-10 16:00:00",
           "Deal - Lost reason": "Budget"})))
    assert lost["actual_close_date"] == "2026-02-10"
    assert lost["lost_reason"] == "Budget"


def test_a_deal_in_another_currency_than_the_files_first_is_refused():
    result = converted("pipedrive", ROWS["pipedrive"](),
                       ROWS["pipedrive"](**{"Deal - Currency": "EUR"}))
    [problem] = result.problems
    assert (problem.row, problem.column) == (3, "deal_value")
    assert "EUR" in problem.reason and "USD" in problem.reason


def test_owners_are_matched_by_full_name_or_email_and_a_shared_name_is_refused():
    by_email = row_of(converted("hubspot", ROWS["hubspot"](
        **{"Deal owner": "Olga Owner (OWNER@example.com)"})))
    assert by_email["owner_email"] == "owner@example.com"
    shared = converted("hubspot", ROWS["hubspot"](**{"Deal owner": "ann  SAME"}))
    assert "several users are named" in shared.problems[0].reason
    nobody = converted("hubspot", ROWS["hubspot"](**{"Deal owner": "Zed Nobody"}))
    assert nobody.problems[0].column == "owner_email"
    assert "'Zed Nobody'" in nobody.problems[0].reason


def test_partners_are_matched_by_unicode_name_or_contact_email():
    by_name = row_of(converted("hubspot", ROWS["hubspot"](Partner="ÄRZTE  netz")))
    assert by_name["partner"] == "Ärzte Netz"
    by_email = row_of(converted("hubspot", ROWS["hubspot"](Partner="Pat@Ledgerline.example")))
    assert by_email["partner"] == "Ledgerline"


def test_one_partner_for_every_row_when_the_file_has_no_partner_column():
    header = [h for h in HEADERS["hubspot"] if h != "Partner"]
    mapping = m.CrmMapping(tool="hubspot", columns={f: p.source for f, p in
                                                    m.propose_columns("hubspot", header).items()},
                           stages=m.default_stage_map("hubspot"), partner="ledgerline")
    record = [ROWS["hubspot"]()[h] for h in header]
    result = m.convert(mapping, header, [(2, record)], people=PEOPLE, partners=PARTNERS)
    assert row_of(result)["partner"] == "Ledgerline"


def test_rows_keep_their_numbers_when_a_workbook_leaves_empty_rows_out():
    header = HEADERS["hubspot"]
    mapping = m.CrmMapping(tool="hubspot", columns={f: p.source for f, p in
                                                    m.propose_columns("hubspot", header).items()},
                           stages=m.default_stage_map("hubspot"))
    record = [ROWS["hubspot"]()[h] for h in header]
    result = m.convert(mapping, header, [(2, record), (5, record)], people=PEOPLE,
                       partners=PARTNERS)
    assert [bool(any(r)) for r in result.rows] == [True, False, False, True]


def test_a_stage_map_file_in_csv_or_json_is_read_and_a_bad_entry_named():
    assert m.parse_stage_map(b"their_stage,our_stage\nDiscovery,demo\n", "s.csv") == {
        "Discovery": "demo"}
    assert m.parse_stage_map(b'{"Discovery": "poc"}', "s.json") == {"Discovery": "poc"}
    with pytest.raises(ValueError, match=r"row 2.*'Discovery'.*'won'"):
        m.parse_stage_map(b"their_stage,our_stage\nDiscovery,won\n", "s.csv")
    with pytest.raises(ValueError, match="their_stage,our_stage"):
        m.parse_stage_map(b"Discovery,demo\n", "s.csv")
    with pytest.raises(ValueError, match="JSON object"):
        m.parse_stage_map(b'["Discovery"]', "s.json")
