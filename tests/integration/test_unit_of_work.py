"""session_scope: a use case's writes are kept only when it commits, and never lost in silence."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from isv.auth import Viewer
from isv.db import UncommittedWrite, session_scope
from isv.models import Partner
from isv.services import partners

SYSTEM = Viewer.system("tests")


def _names(url: str) -> list[str]:
    with session_scope(url) as session:
        return list(session.scalars(select(Partner.name).order_by(Partner.name)))


def _add(session, name: str) -> Partner:
    return partners.create_partner(session=session, viewer=SYSTEM, name=name, domain="FinOps")


def _committed_partner(url: str, name: str) -> None:
    with session_scope(url) as session:
        _add(session, name)
        session.commit()


def test_a_use_case_that_commits_keeps_its_writes(committed_url):
    _committed_partner(committed_url, "Kept")
    assert _names(committed_url) == ["Kept"]


def test_a_write_left_uncommitted_is_rolled_back_and_said_so(committed_url):
    with pytest.raises(UncommittedWrite), session_scope(committed_url) as session:
        _add(session, "Forgotten")
    assert _names(committed_url) == []


@pytest.mark.parametrize("statement", [update(Partner).values(notes="bulk"),
                                       text("DELETE FROM isv_partners")],
                         ids=["bulk update", "plain SQL"])
def test_a_statement_that_writes_without_a_flush_is_not_lost_in_silence(committed_url,
                                                                          statement):
    _committed_partner(committed_url, "Ledgerline")
    with pytest.raises(UncommittedWrite), session_scope(committed_url) as session:
        session.execute(statement)
    with session_scope(committed_url) as session:
        assert session.execute(select(Partner.name, Partner.notes)).all() in (
            [("Ledgerline", None)], [("Ledgerline", "")])


def test_a_dry_run_in_a_savepoint_rolled_back_ends_without_error(committed_url):
    with session_scope(committed_url) as session:
        savepoint = session.begin_nested()
        _add(session, "Only tried")
        assert session.scalar(select(func.count()).select_from(Partner)) == 1
        savepoint.rollback()
    assert _names(committed_url) == []


def test_a_savepoint_released_but_never_committed_is_still_an_uncommitted_write(committed_url):
    with pytest.raises(UncommittedWrite), session_scope(committed_url) as session:
        _add(session, "Before")
        session.flush()  # (pysqlite begins its transaction at the first write, not a SAVEPOINT)
        with session.begin_nested():
            _add(session, "Half done")
    assert _names(committed_url) == []


def test_what_a_read_loaded_stays_readable_after_the_block(committed_url):
    _committed_partner(committed_url, "Readable")
    with session_scope(committed_url) as session:
        partner = session.scalar(select(Partner))
    assert partner.name == "Readable"  # the read ended without expiring what it loaded
