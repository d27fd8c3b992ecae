"""The pipeline board: one column per stage, totals from SQL, a few cards each, a move control."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime

import streamlit as st
from sqlalchemy.orm import Session

from isv import display
from isv.auth import Viewer
from isv.models import CLOSED_STAGES, STAGES
from isv.services import opportunities as opps
from isv.services.opportunities import OpportunityFilters, OpportunityRow, StageTotal
from isv.services.settings import local_date, local_today
from isv.ui import board_drag, links, widgets
from isv.ui.labels import SLIPPED_LABEL, stage_label
from isv.ui.tables import short_name

CARDS_PER_COLUMN = 20
CARD_SORT = "-deal_value"  # the biggest deals first: what a manager works on
DETAIL_PAGE = "pages/opportunity_detail.py"
LOST = "closed_lost"
PENDING_LOST = "board_pending_lost"  # a drop on Closed lost, waiting for its reason


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
        f"**{stage_label(column.stage)}** · {display.count(total.count)} "
        f"deal{'s' if total.count != 1 else ''}"
        f"  \n:small[Σ {esc(display.money_short(total.value))} · weighted "
        f"{esc(display.money_short(total.weighted))}]",
        # Escaped: "$" in Markdown may start a formula.
        help=esc(f"Value {display.money(total.value)}, weighted "
                 f"{display.money(total.weighted)} (value × probability), over all "
                 f"{display.count(total.count)} matching deals"))


def card_text(card: OpportunityRow, entered: datetime | None, today: date) -> str:
    """The card's lines under its title link, as escaped Markdown: user text shown as typed."""
    esc = widgets.escape_md
    days = days_in_stage(entered, today)
    close = (f"closed {display.day(card.actual_close_date)}" if card.actual_close_date
             else f"close {display.day(card.expected_close_date, none='not set')}")
    owner = short_name(card.assigned_user_name) if card.assigned_user_name else "unassigned"
    lines = [
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


@dataclass(frozen=True)
class Move:
    """A card's move as asked for: by the Move dialog or by a drop."""

    opportunity_id: str
    to_stage: str
    version: int | None


def save_move(move: Move, *, lost_reason: str | None = None,
              errors: widgets.FieldErrors | None = None) -> bool:
    """Save a move through the service (refused when the card was drawn from stale data)."""
    moved = widgets.run(opps.move_stage, errors=errors or _CardErrors(),
                        opportunity_id=move.opportunity_id, to_stage=move.to_stage,
                        expected_version=move.version, lost_reason=lost_reason)
    if moved is None:
        return False
    widgets.flash(f"Moved {moved.customer_name} to {stage_label(moved.stage)}.")
    return True


def request_move(move: Move, *, errors: widgets.FieldErrors | None = None) -> bool:
    """Save a move now, or, for Closed lost, ask for the reason first; True when saved."""
    if move.to_stage == LOST:
        st.session_state[PENDING_LOST] = move
        return False
    return save_move(move, errors=errors)


def move_from_drop(drop: dict | None) -> Move | None:
    """The move a drop asks for, when the browser sent a well-formed one."""
    if not isinstance(drop, dict) or drop.get("to") not in STAGES:
        return None
    try:
        card_id = str(uuid.UUID(str(drop.get("id"))))
    except ValueError:
        return None
    version = drop.get("version")
    return Move(card_id, drop["to"], version if isinstance(version, int) else None)


def _dropped() -> None:
    move = move_from_drop(board_drag.dropped())
    if move is not None:
        request_move(move)


def _forget_pending() -> None:
    st.session_state.pop(PENDING_LOST, None)


@st.dialog("Close as lost", on_dismiss=_forget_pending)
def _lost_reason_dialog(move: Move, customer: str) -> None:
    """Closed lost needs a reason: ask for it; Cancel leaves the deal where it was."""
    st.markdown(f"Why was **{widgets.escape_md(customer)}** lost?")
    errors = _CardErrors()
    with st.form("board_lost_form", border=False):
        reason = st.text_area("Lost reason", key="board_lost_reason", max_chars=500,
                              height=90)
        errors.slot("lost_reason", "Lost reason")
        save_col, cancel_col = st.columns(2)
        confirmed = save_col.form_submit_button("Close as lost", type="primary",
                                                key="board_lost_save", width="stretch")
        cancelled = cancel_col.form_submit_button("Cancel", key="board_lost_cancel",
                                                  width="stretch")
    if cancelled:
        _forget_pending()
        st.rerun()
    if confirmed and save_move(move, lost_reason=reason.strip() or None, errors=errors):
        _forget_pending()
        widgets.reset("board_lost_reason")
        st.rerun()


@dataclass(frozen=True)
class Moving:
    """The card whose Move dialog is open, as it was drawn when Move was pressed."""

    opportunity_id: str
    version: int
    customer: str
    stage: str


MOVING = "board_moving"


def _open_move(card: OpportunityRow) -> None:
    st.session_state[MOVING] = Moving(str(card.id), card.version, card.customer_name,
                                      card.stage)


def _forget_moving() -> None:
    st.session_state.pop(MOVING, None)


def move_control(card: OpportunityRow) -> None:
    """A card's Move button (the keyboard path beside dragging): it opens the Move dialog.

    One button per card, the stage picker only in the dialog: a menu of its own on each of
    the 80 cards took 0.4 s of every board drawing in the browser (bench/README.md).
    """
    st.button("Move", key=f"move_open_{card.id}", icon=":material/swap_horiz:",
              width="stretch", on_click=_open_move, args=(card,))


@st.dialog("Move deal", on_dismiss=_forget_moving)
def _move_dialog(moving: Moving) -> None:
    """The target stage, then Move: saved at once, or Closed lost asks for the reason next.

    The move carries the version the card showed when Move was pressed, so a move based on
    a card someone has changed since is refused, here, naming them.
    """
    card_id = moving.opportunity_id
    st.markdown(f"**{widgets.escape_md(moving.customer)}**, now in "
                f"{stage_label(moving.stage)}")
    errors = _CardErrors()
    with st.form(f"move_{card_id}", border=False):
        to_stage = st.selectbox("To stage", [s for s in STAGES if s != moving.stage],
                                format_func=stage_label, key=f"move_to_{card_id}",
                                help="Closed lost asks for the reason next")
        errors.slot("stage", "To stage")
        submitted = st.form_submit_button("Move", key=f"move_submit_{card_id}",
                                          type="primary")
    if submitted and (request_move(Move(card_id, to_stage, moving.version), errors=errors)
                      or st.session_state.get(PENDING_LOST)):
        _forget_moving()
        st.rerun()  # the whole board, drawn once with the move in it


def card(card: OpportunityRow, entered: datetime | None, today: date, *,
         can_move: bool) -> None:
    """A card: its title opens the deal (same tab), its lines, the Move button."""
    with st.container(border=True, key=board_drag.card_key(card.id)):
        st.page_link(DETAIL_PAGE, label=f"**{widgets.escape_md(card.customer_name)}**",
                     query_params={"id": str(card.id)})
        st.markdown(card_text(card, entered, today))
        if can_move:
            move_control(card)


def draw(columns: list[Column], *, can_move: bool,
         filters: OpportunityFilters | None = None) -> None:
    """The columns; a column's "See all" opens the grid on its deals under the same filters."""
    today = local_today()
    slots = st.columns(len(columns), gap="small")
    for slot, column in zip(slots, columns, strict=True):
        with slot, st.container(key=board_drag.column_key(column.stage)):
            header(column)
            for row in column.cards:
                card(row, column.entered.get(row.id), today, can_move=can_move)
            if column.more:
                st.caption(f"{display.count(column.more)} more — open the grid filtered to "
                           "this stage")
                every = replace(filters or OpportunityFilters(), stages=(column.stage,))
                st.page_link(links.GRID_PAGE, label="See all", icon=":material/table:",
                             query_params=links.grid_params(every))
    if can_move:
        _drag_and_drop(columns)
        moving = st.session_state.get(MOVING)
        pending = st.session_state.get(PENDING_LOST)
        if isinstance(moving, Moving) and pending is None:
            _move_dialog(moving)
        elif isinstance(pending, Move):
            names = {str(c.id): c.customer_name for col in columns for c in col.cards}
            _lost_reason_dialog(pending, names.get(pending.opportunity_id, "this deal"))


def _drag_and_drop(columns: list[Column]) -> None:
    runs = st.session_state.get("board_drag_runs", 0) + 1
    st.session_state["board_drag_runs"] = runs
    board_drag.drag_and_drop(
        {str(c.id): (col.stage, c.version) for col in columns for c in col.cards},
        {col.stage: stage_label(col.stage) for col in columns},
        on_drop=_dropped, run=runs)


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
