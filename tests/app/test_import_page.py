"""The Import / export page: an upload is previewed, every problem listed, then confirmed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import Partner
from isv.services import importing
from isv.ui.labels import entity_label
from tests.app.conftest import messages

PARTNERS = b"Name,Domain,Relationship_Health\nKeyward,Security,excellent\nLogvane,Observability,\n"


@pytest.fixture
def page(login):
    def open_as(role: str):
        at = login(role, "pages/import_data.py")
        assert not at.exception, at.exception
        assert [t.value for t in at.title] == ["Import / export"]
        return at
    return open_as


def upload(at, name: str, data: bytes, entity: str = "partners"):
    at.selectbox(key="import_entity").set_value(entity).run()
    at.file_uploader(key="import_file_0").set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def partner_names() -> list[str]:
    with session_scope() as s:
        return sorted(s.scalars(select(Partner.name)))


@pytest.mark.parametrize(("role", "entities"), [
    ("vp", importing.ENTITIES),
    ("sales_manager", importing.ENTITIES[1:]),
    ("partnership_manager", importing.ENTITIES[1:]),
    ("admin", ("users",)),
])
def test_each_role_is_offered_what_it_may_import(page, role, entities):
    at = page(role)
    assert at.selectbox(key="import_entity").options == [entity_label(e) for e in entities]


def test_admin_is_told_that_only_users_can_be_imported(page):
    at = page("admin")
    [note] = messages(at.info)
    assert note == ("As Admin you may import users. Your role may not change partners, "
                    "commission structures, opportunities, stage history, quarterly goals, "
                    "partner touches: the import refuses them, but the Export tab downloads "
                    "them.")


def test_an_upload_is_previewed_and_imported_only_on_confirm(page):
    at = upload(page("vp"), "partners.csv", PARTNERS)
    assert metrics(at) == {"To create": "2", "To update": "0", "Unchanged": "0",
                           "Problems": "0"}
    assert partner_names() == []  # the preview wrote nothing
    at.button(key="import_confirm").click().run()
    assert not at.exception, at.exception
    assert messages(at.success) == [
        "Imported partners.csv: partners: 2 created, 0 updated, 0 unchanged."]
    assert partner_names() == ["Keyward", "Logvane"]
    assert at.file_uploader(key="import_file_1").value is None  # ready for the next file


def test_every_problem_is_listed_by_row_and_column_and_nothing_can_be_confirmed(page):
    bad = b"name,domain,website\nKeyward,Retail,keyward.example\n,Security,\n"
    at = upload(page("sales_manager"), "partners.csv", bad)
    assert metrics(at)["Problems"] == "3"
    assert messages(at.error) == [
        "3 problems in partners.csv. Nothing will be imported until the file is fixed and "
        "uploaded again."]
    [table] = [frame.value for frame in at.dataframe]
    assert table.to_dict("records") == [
        {"Row": 2, "Column": "domain",
         "Problem": "'Retail' is not one of FinOps, Security, Observability, DevOps, "
                    "Data/Backup"},
        {"Row": 2, "Column": "website", "Problem": "must start with http:// or https://"},
        {"Row": 3, "Column": "name", "Problem": "is required"},
    ]
    assert not [b for b in at.button if b.key == "import_confirm"]
    assert partner_names() == []


def test_a_file_already_imported_has_nothing_to_confirm(page):
    with session_scope() as s:
        importing.import_file(session=s, viewer=Viewer.system("tests"), entity="partners",
                             data=PARTNERS, filename="partners.csv")
        s.commit()
    at = upload(page("vp"), "partners.csv", PARTNERS)
    assert metrics(at)["Unchanged"] == "2"
    assert messages(at.success) == [
        "Everything in this file is already in the database; there is nothing to import."]
    assert not [b for b in at.button if b.key == "import_confirm"]


def test_an_export_is_prepared_as_csv_and_excel_downloads(page):
    at = page("admin")
    at.selectbox(key="export_entity").set_value("users").run()
    at.button(key="export_prepare").click().run()
    assert not at.exception, at.exception
    assert "Users: 4 rows." in [c.value for c in at.caption]
    assert {b.key for b in at.download_button} == {"export_csv", "export_xlsx"}


def test_a_nul_byte_in_an_uploaded_cell_is_a_problem_by_row_and_column(page):
    at = upload(page("vp"), "partners.csv", b"name,domain,notes\nKeyward,Security,a\x00b\n")
    assert metrics(at)["Problems"] == "1"
    [table] = [frame.value for frame in at.dataframe]
    assert table.to_dict("records") == [{
        "Row": 2, "Column": "notes",
        "Problem": "contains a NUL character (byte 0), which no text may hold; remove it"}]
    assert not [b for b in at.button if b.key == "import_confirm"]


def test_only_the_first_thousand_problems_reach_the_browser_and_the_rest_are_counted(page):
    bad = b"name,domain\n" + b"".join(f"P{n},Retail\n".encode() for n in range(1_005))
    at = upload(page("vp"), "partners.csv", bad)
    assert metrics(at)["Problems"] == "1,005"
    assert messages(at.error)[0].startswith("1,005 problems in partners.csv.")
    [table] = [frame.value for frame in at.dataframe]
    assert len(table) == 1_000
    assert "Only the first 1,000 are listed; 5 more were found." in [c.value for c in at.caption]
