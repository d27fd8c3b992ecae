"""The tier review section: this quarter's suggested tier moves, and the decisions on them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from isv import display
from isv.analytics import cached
from isv.analytics import tiers as review_data
from isv.auth import Viewer
from isv.services import tiers as reviews
from isv.ui import kpi, widgets
from isv.ui.labels import tier_label

SUGGESTION_COLUMNS = ["Partner", "Tier now", "Suggested", "Move", "Won (4 quarters)",
                      "Won deals", "Open pipeline", "Why"]
DECISION_COLUMNS = ["Partner", "From", "To", "Decision", "Note", "By", "When"]
DECISION_WORDS = {reviews.ACCEPTED: "Accepted", reviews.REJECTED: "Rejected"}


def suggestions_frame(review: review_data.Review) -> pd.DataFrame:
    return pd.DataFrame(
        [[s.partner, tier_label(s.move.from_tier), tier_label(s.move.to_tier),
          "Promote" if s.move.direction == "promote" else "Demote", s.figures.won_revenue,
          s.figures.won_deals, s.figures.open_pipeline, " ".join(s.reasons)]
         for s in review.suggestions], columns=SUGGESTION_COLUMNS)


def decisions_frame(decided: list[reviews.Decided]) -> pd.DataFrame:
    return pd.DataFrame(
        [[d.partner, tier_label(d.from_tier), tier_label(d.to_tier),
          DECISION_WORDS.get(d.decision, d.decision), d.note, d.decided_by or "",
          display.moment(d.decided_at)] for d in decided], columns=DECISION_COLUMNS)


def review_section(viewer: Viewer, today: date) -> None:
    """The quarter's open suggestions; a vp or sales manager accepts or rejects each."""
    st.subheader("Tier review", anchor=False)
    review = cached.load(review_data.tier_review, viewer=viewer, share="scope", as_of=today)
    ladder = " < ".join(t.name for t in review.tiers)
    st.caption(widgets.escape_md(
        f"{review.quarter.title} review: won revenue and won deals from "
        f"{review.window.span}, open pipeline now. Tiers, lowest first: {ladder} "
        "(minimums on the Settings page). Over the partners you can see; the filters above "
        "do not apply here."))
    if review.suggestions:
        kpi.table(suggestions_frame(review), money=("Won (4 quarters)", "Open pipeline"),
                  counts=("Won deals",), key="tier_suggestions")
    else:
        st.caption("✓ Every partner holds the tier its figures earn, or was decided this "
                   "quarter.")
    if review.suggestions and reviews.may_decide(viewer):
        decision_form(review)
    elif review.suggestions:
        st.caption("A vp or sales manager accepts or rejects each suggestion.")
    decided = widgets.run(reviews.list_decisions, quarter=review.quarter.label) or []
    if decided:
        st.markdown(f"**Decided in {widgets.escape_md(review.quarter.title)}**")
        kpi.table(decisions_frame(decided), key="tier_decisions")


def decision_form(review: review_data.Review) -> None:
    """Pick a suggestion, say why, accept or reject it."""
    by_id = {str(s.partner_id): s for s in review.suggestions}
    errors = widgets.FieldErrors()
    with st.form("tier_decision"):
        picked = st.selectbox(
            "Suggestion", list(by_id), key="tier_pick",
            format_func=lambda i: f"{by_id[i].partner} · {by_id[i].summary}")
        note = st.text_area("Note", key="tier_note", max_chars=2000,
                            placeholder="Why you accept or reject it (kept in the audit log)")
        errors.slot("note", "Note")
        buttons = st.container(horizontal=True)
        accept = buttons.form_submit_button("Accept", key="tier_accept", type="primary")
        reject = buttons.form_submit_button("Reject", key="tier_reject")
    if not (accept or reject) or picked is None:
        return
    chosen = by_id[picked]
    if widgets.run(review_data.decide, errors=errors, partner_id=chosen.partner_id,
                   accept=bool(accept), note=note) is not None:
        widgets.flash(f"{chosen.partner}: {chosen.summary} "
                      f"{'accepted' if accept else 'rejected'}.")
        st.session_state.pop("tier_note", None)
        st.rerun()
