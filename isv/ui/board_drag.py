"""Drag a board card onto another stage column.

The board's cards and columns stay ordinary Streamlit elements (so the Move menu on each
card, the keyboard path, keeps working); this components v2 element (plain JS served by
Streamlit itself, no iframe, no build step) only makes the cards draggable and reports a
drop as a trigger: {"id", "to", "version"}. The page's callback saves it through the same
service as the menu. Cards and columns are found by the classes Streamlit gives keyed
containers: `st-key-<CARD_KEY_PREFIX><id>` and `st-key-<COLUMN_KEY_PREFIX><stage>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

CARD_KEY_PREFIX = "card_"
COLUMN_KEY_PREFIX = "board_col_"
KEY = "board_drag"

_HTML = '<div class="isv-board-drag" role="status" aria-live="polite"></div>'

# Global, not isolated: it styles the board's own elements. A card is as wide as its column
# allows; its words wrap between words only, never inside one.
_CSS = """
.isv-board-drag { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip-path: inset(50%); white-space: nowrap; }
[class*="st-key-card_"] [data-testid="stMarkdownContainer"] p {
  overflow-wrap: normal; word-break: normal; hyphens: manual; }
[class*="st-key-card_"] [data-testid="stElementContainer"]:has(> [data-testid="stPageLink"]) {
  width: 100%; }
[class*="st-key-card_"] [data-testid="stPageLink-NavLink"] {
  padding: 0; margin: 0; justify-content: flex-start; background: none; }
[class*="st-key-card_"] [data-testid="stPageLink-NavLink"] * {
  white-space: normal; overflow: visible; text-overflow: clip; text-align: left; }
[class*="st-key-card_"] [data-testid="stPageLink-NavLink"] p { text-decoration: underline;
  text-decoration-color: rgba(31, 78, 156, 0.45); text-underline-offset: 0.2em; }
[class*="st-key-card_"][draggable="true"] { cursor: grab; }
[class*="st-key-card_"].isv-dragging { opacity: 0.45; }
[class*="st-key-card_"].isv-moving { opacity: 0.45; pointer-events: none; }
[data-testid="stColumn"].isv-drop-target { outline: 2px dashed #1f4e9c; outline-offset: 4px;
  border-radius: 0.5rem; background: rgba(31, 78, 156, 0.06); }
"""

# The listeners live on the document (cards are Streamlit's elements, redrawn at will) and
# are added once per page load; each run hands them the latest cards. Every run also marks
# the cards draggable again and clears a "moving" dim left by a drop that was not saved
# (say, a Closed lost drop whose reason was cancelled).
_JS = """
const CARD = "st-key-CARD_PREFIX", COLUMN = "st-key-COLUMN_PREFIX";

function idOf(el, prefix) {
  for (const c of el.classList) if (c.startsWith(prefix)) return c.slice(prefix.length);
  return null;
}
function cardOf(target) {
  return target instanceof Element ? target.closest(`[class*="${CARD}"]`) : null;
}
function zoneOf(target) {
  const column = target instanceof Element
    ? target.closest('[data-testid="stColumn"]') : null;
  const inner = column && column.querySelector(`[class*="${COLUMN}"]`);
  return inner ? { column, stage: idOf(inner, COLUMN) } : null;
}

export default function ({ data, setTriggerValue, parentElement }) {
  const live = parentElement.querySelector(".isv-board-drag");
  let s = window.isvBoardDrag;
  if (!s) {
    s = window.isvBoardDrag = { data, send: setTriggerValue, id: null, over: null };
    const highlight = (column) => {
      if (s.over === column) return;
      if (s.over) s.over.classList.remove("isv-drop-target");
      s.over = column;
      if (column) column.classList.add("isv-drop-target");
    };
    document.addEventListener("dragstart", (ev) => {
      const card = cardOf(ev.target);
      const id = card && idOf(card, CARD);
      if (!id || !s.data.cards[id]) return;
      s.id = id;
      ev.dataTransfer.effectAllowed = "move";
      // Not text/plain: a text box the card is dropped on must not take the id as text.
      ev.dataTransfer.setData("application/x-isv-deal", id);
      card.classList.add("isv-dragging");
    });
    document.addEventListener("dragover", (ev) => {
      if (!s.id) return;
      const zone = zoneOf(ev.target);
      const ok = zone && zone.stage !== s.data.cards[s.id][0];
      highlight(ok ? zone.column : null);
      if (ok) {
        ev.preventDefault();
        ev.dataTransfer.dropEffect = "move";
      }
    });
    document.addEventListener("drop", (ev) => {
      const zone = s.id && zoneOf(ev.target);
      const [from, version] = s.id ? s.data.cards[s.id] : [null, null];
      if (zone && zone.stage !== from) {
        ev.preventDefault();
        const card = document.querySelector(`.${CARD}${s.id}`);
        if (card) card.classList.add("isv-moving");
        live.textContent = `Moving to ${s.data.stages[zone.stage] || zone.stage}…`;
        s.send("drop", { id: s.id, to: zone.stage, version });
      }
    });
    document.addEventListener("dragend", () => {
      document.querySelectorAll(".isv-dragging")
        .forEach((el) => el.classList.remove("isv-dragging"));
      highlight(null);
      s.id = null;
    });
  }
  s.data = data;
  s.send = setTriggerValue;
  document.querySelectorAll(".isv-moving").forEach((el) => el.classList.remove("isv-moving"));
  const mark = () => {
    for (const id of Object.keys(s.data.cards)) {
      const card = document.querySelector(`.${CARD}${id}`);
      if (card && card.getAttribute("draggable") !== "true") {
        card.setAttribute("draggable", "true");
      }
    }
  };
  mark();
  // Streamlit may draw the cards after this element; mark them once they are there.
  const watch = new MutationObserver(mark);
  watch.observe(document.body, { childList: true, subtree: true });
  const stop = setTimeout(() => watch.disconnect(), 3000);
  return () => { clearTimeout(stop); watch.disconnect(); };
}
""".replace("CARD_PREFIX", CARD_KEY_PREFIX).replace("COLUMN_PREFIX", COLUMN_KEY_PREFIX)

_DRAG = st.components.v2.component("isv.board_drag", html=_HTML, css=_CSS, js=_JS,
                                   isolate_styles=False)


def card_key(card_id: object) -> str:
    return f"{CARD_KEY_PREFIX}{card_id}"


def column_key(stage: str) -> str:
    return f"{COLUMN_KEY_PREFIX}{stage}"


def dropped() -> dict[str, Any] | None:
    """The drop that triggered this run, as the browser sent it (read in the callback)."""
    value = st.session_state.get(KEY)
    drop = value.get("drop") if isinstance(value, dict) else getattr(value, "drop", None)
    return drop if isinstance(drop, dict) else None


def drag_and_drop(cards: dict[str, tuple[str, int]], stage_labels: dict[str, str], *,
                  on_drop: Callable[[], None], run: int) -> None:
    """Make the given cards draggable onto the drawn stage columns.

    `cards` maps a card's id to its stage and the version it was drawn from (a drop based on
    stale data is refused by the service's optimistic lock). `run` changes every run, so the
    browser code runs again after a drop that saved nothing.
    """
    _DRAG(key=KEY, data={"cards": cards, "stages": stage_labels, "run": run},
          on_drop_change=on_drop)
