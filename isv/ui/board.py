"""The pipeline board: one column per stage, totals from SQL, a few cards each, a move control."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import streamlit as st
from sqlalchemy.orm import Session

from isv import display
from isv.auth import Viewer
from isv.dates import local_date, local_today
from isv.models import CLOSED_STAGES, STAGES
from isv.services import opportunities as opps
from isv.services.opportunities import OpportunityFilters, OpportunityRow, StageTotal
from isv.ui import widgets
from isv.ui.labels import SLIPPED_LABEL, stage_label
from isv.ui.tables import short_name

CARDS_PER_COLUMN = 20
CARD_SORT = "-deal_value"  # the biggest deals first: what a manager works on


@dataclass(frozen=True)
class Column:
    stage: str
    total: StageTotal
    cards: list[OpportunityRow]
    entered: dict[uuid.UUID, datetime]

    @property
    def more(self) -> int:
        return max(0, self.total.count - len(self.cards))


def load_board(*, session: Session, viewer: Viewer, filters: OpportunityFilters,
               stages: tuple[str, ...] = (), per_column: int = CARDS_PER_COLUMN) -> list[Column]:
    """Totals over the whole filtered set and the top cards of each stage (all when none given)."""
    shown = tuple(s for s in STAGES if not stages or s in stages)
    totals = opps.stage_totals(session=session, viewer=viewer, filters=filters, stages=shown)
    cards = opps.top_by_stage(session=session, viewer=viewer, filters=filters, stages=shown,
                              per_stage=per_column, sort=CARD_SORT)
    entered = opps.stage_entered_at(
        session=session, viewer=viewer,
        opportunity_ids=[c.id for stage in shown for c in cards[stage]])
    return [Column(stage=stage, total=totals[stage], cards=cards[stage], entered=entered)
            for stage in shown]


def is_slipped(card: OpportunityRow, today: date) -> bool:
    """KPIS.md: an open deal whose expected close date is before today."""
    return (card.stage not in CLOSED_STAGES and card.expected_close_date is not None
            and card.expected_close_date < today)


def days_in_stage(entered: datetime | None, today: date) -> int | None:
    return None if entered is None else max(0, (today - local_date(entered)).days)


def header(column: Column) -> None:
    """Stage, count, Σ value and Σ weighted value; exact amounts in the tooltip."""
    total, esc = column.total, widgets.escape_md
    st.markdown(
        f"**{stage_label(column.stage)}** · {total.count:,} deal{'s' if total.count != 1 else ''}"
        f"  \n:small[Σ {esc(display.money_short(total.value))} · weighted "
        f"{esc(display.money_short(total.weighted))}]",
        # Escaped: "$" in Markdown may start a formula.
        help=esc(f"Value {display.money(total.value)}, weighted {display.money(total.weighted)} "
                 f"(value × probability), over all {total.count:,} matching deals"))


def card_text(card: OpportunityRow, entered: datetime | None, today: date) -> str:
    """The card's lines as escaped Markdown: user text is always shown as typed."""
    esc = widgets.escape_md
    days = days_in_stage(entered, today)
    close = (f"closed {display.day(card.actual_close_date)}" if card.actual_close_date
             else f"close {display.day(card.expected_close_date, none='not set')}")
    owner = short_name(card.assigned_user_name) if card.assigned_user_name else "unassigned"
    lines = [
        f"**{esc(card.customer_name)}**",
        f":small[{esc(card.partner_name)}]",
        f"{esc(display.money(card.deal_value))}",
        f":small[{esc(close)}]",
        f":small[{esc(owner)}"
        + (esc(f" · {days} day{'s' if days != 1 else ''} in stage") if days is not None
           else "") + "]",
    ]
    if is_slipped(card, today):
        lines.append(f"**{esc(SLIPPED_LABEL)}**")
    return "  \n".join(lines)


class _CardErrors(widgets.FieldErrors):
    """One error place per card, under its form: a board has many cards, so few elements."""

    def __init__(self) -> None:
        super().__init__()
        self._labels.update({"stage": "To stage", "lost_reason": "Lost reason"})


def move_control(card: OpportunityRow) -> None:
    """A move form on the card: the target stage, and the lost reason when closing lost."""
    with st.popover("Move", icon=":material/swap_horiz:", width="stretch",
                    key=f"move_pop_{card.id}"):
        with st.form(f"move_{card.id}", border=False):
            to_stage = st.selectbox("To stage", [s for s in STAGES if s != card.stage],
                                    format_func=stage_label, key=f"move_to_{card.id}")
            reason = st.text_input("Lost reason", key=f"move_reason_{card.id}", max_chars=500,
                                   help="Required when moving to Closed lost")
            submitted = st.form_submit_button("Move", key=f"move_submit_{card.id}",
                                              type="primary")
        if submitted:
            moved = widgets.run(opps.move_stage, errors=_CardErrors(), opportunity_id=card.id,
                                to_stage=to_stage, expected_version=card.version,
                                lost_reason=reason.strip() or None)
            if moved is not None:
                widgets.flash(f"Moved {card.customer_name} to {stage_label(moved.stage)}.")
                st.rerun()


def draw(columns: list[Column], *, can_move: bool) -> None:
    today = local_today()
    slots = st.columns(len(columns), gap="small")
    for slot, column in zip(slots, columns, strict=True):
        with slot:
            header(column)
            for card in column.cards:
                with st.container(border=True, key=f"card_{card.id}"):
                    st.markdown(card_text(card, column.entered.get(card.id), today))
                    if can_move:
                        move_control(card)
            if column.more:
                st.caption(f"{column.more:,} more — open the grid filtered to this stage")
                st.page_link("pages/opportunities.py", label="See all",
                             icon=":material/table:", query_params={"stage": column.stage})


def view_options(filters: OpportunityFilters) -> tuple[tuple[str, ...], int]:
    """Which stage columns to show and how many cards each; closed columns only on request.

    Stages chosen in the filter win; otherwise the four open stages, plus the two closed ones
    when asked for (six columns are cramped at 1024 px).
    """
    closed_col, size_col = st.columns([1, 2], vertical_alignment="center")
    with_closed = closed_col.toggle("Show closed stages", key="board_closed",
                                    disabled=bool(filters.stages))
    per_column = size_col.segmented_control(
        "Cards per column", [10, 20, 50], default=CARDS_PER_COLUMN, key="board_per_column",
        label_visibility="collapsed", format_func=lambda n: f"{n} cards")
    if filters.stages:
        stages = filters.stages
    else:
        stages = STAGES if with_closed else tuple(s for s in STAGES if s not in CLOSED_STAGES)
    return stages, per_column or CARDS_PER_COLUMN
