"""The dashboard's gap to goal: what is left of the period's revenue target and the open
deals most likely to close it, the list the exec pack's closing slide shows."""

from __future__ import annotations

from tests.app.conftest import messages
from tests.app.test_dashboard import program  # noqa: F401  (the shared data)


def test_the_vp_sees_the_gap_and_the_deals_that_would_close_it(program, login):  # noqa: F811
    at = login("vp")

    assert not at.exception, at.exception
    [caption] = [text for text in messages(at.caption) if text.startswith("Target ")]
    assert caption.startswith("Target $100.0k · won $65.0k · gap $35.0k · coverage ")
    assert caption.endswith("likeliest first: together these 2 cover it.")
    closers = next(frame.value for frame in at.dataframe
                   if list(frame.value.columns)[:2] == ["Customer", "Partner"]
                   and "Running total" in frame.value.columns)
    assert list(closers["Customer"]) == ["Late Ltd", closers["Customer"].iloc[1]]
    assert list(closers["Probability"]) == [75.0, 25.0]  # shown as "75 %", "25 %"
    assert list(closers["Slipped"]) == ["yes", ""]


def test_a_partnership_manager_sees_the_gap_to_their_own_target(program, login):  # noqa: F811
    at = login("partnership_manager")

    assert not at.exception, at.exception
    [caption] = [text for text in messages(at.caption) if text.startswith("Target ")]
    assert caption.startswith("Target $80.0k · won $40.0k · gap $40.0k")
