"""CSV text cells guarded against spreadsheet formulas, and read back exactly (OWASP)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from isv.services.cells import FORMULA_STARTS, guard, unguard

LEADS = st.sampled_from([*FORMULA_STARTS, "'", "''", "'=", "'x", " =", ""])
TEXTS = st.builds(lambda lead, rest: lead + rest, LEADS, st.text(max_size=12))


@given(TEXTS)
def test_a_guarded_text_never_starts_a_formula_and_unguards_to_itself(text):
    guarded = guard(text)
    assert not guarded.startswith(FORMULA_STARTS)
    assert unguard(guarded) == text


@given(TEXTS)
def test_only_a_text_that_could_start_a_formula_or_begins_with_a_quote_is_changed(text):
    assert (guard(text) != text) == text.startswith((*FORMULA_STARTS, "'"))


def test_the_quote_is_the_owasp_prefix_and_only_the_guards_own_is_removed():
    assert [guard(t) for t in ("=1+1", "-5", "@SUM(A1)", "\tx", "\rx", "'x", "plain")] == [
        "'=1+1", "'-5", "'@SUM(A1)", "'\tx", "'\rx", "''x", "plain"]
    # A quote typed by hand before anything else is the text itself.
    assert [unguard(t) for t in ("'x", "'", "''x", "'=1", "x'=")] == ["'x", "'", "'x", "=1",
                                                                      "x'="]
