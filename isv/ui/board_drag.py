"""Drag a board card onto another stage column, with a mouse, a pen or a finger.

The board's cards and columns stay ordinary Streamlit elements (so the Move menu on each
card, the keyboard path, keeps working); this components v2 element (plain JS served by
Streamlit itself, no iframe, no build step) lets the cards be dragged and reports a drop as
a trigger: {"id", "to", "version"}. The page's callback saves it through the same service
as the menu. Cards and columns are found by the classes Streamlit gives keyed containers:
`st-key-<CARD_KEY_PREFIX><id>` and `st-key-<COLUMN_KEY_PREFIX><stage>`.

Pointer events, not the browser's HTML5 drag and drop (which touch screens never start): a
mouse drags once it has moved a few pixels; a finger first rests on the card for a moment
(HOLD_MS), so that a quick swipe over the board still scrolls the page as on any tablet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

CARD_KEY_PREFIX = "card_"
COLUMN_KEY_PREFIX = "board_col_"
KEY = "board_drag"
READY = "data-isv-drag"  # set on each card the browser code has made draggable
HOLD_MS = 250            # a finger rests this long on a card before it lifts
MOVE_PX = 6              # a mouse press moves this far before it becomes a drag

_HTML = '<div class="isv-board-drag" role="status" aria-live="polite"></div>'

# Global, not isolated: it styles the board's own elements. A card is as wide as its column
# allows; its words wrap between words only, never inside one. `touch-action: manipulation`
# keeps a card's page scrolling and pinch zoom but drops the double-tap delay; a card being
# dragged follows the pointer above the others and lets the columns under it be found.
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
[class*="st-key-card_"][data-isv-drag] { cursor: grab; touch-action: manipulation;
  -webkit-touch-callout: none; }
@media (hover: none) { [class*="st-key-card_"][data-isv-drag] { user-select: none; } }
[class*="st-key-card_"].isv-dragging { position: relative; z-index: 1000; opacity: 0.85;
  pointer-events: none; cursor: grabbing; box-shadow: 0 6px 18px rgba(0, 0, 0, 0.25);
  background: #fff; }
[class*="st-key-card_"].isv-moving { opacity: 0.45; pointer-events: none; }
body.isv-drag-active, body.isv-drag-active * { user-select: none; cursor: grabbing; }
[data-testid="stColumn"].isv-drop-target { outline: 2px dashed #1f4e9c; outline-offset: 4px;
  border-radius: 0.5rem; background: rgba(31, 78, 156, 0.06); }
"""

# The listeners live on the document (cards are Streamlit's elements, redrawn at will) and
# are added once per page load; each run hands them the latest cards. Every run also marks
# the cards again and clears a "moving" dim left by a drop that was not saved (say, a Closed
# lost drop whose reason was cancelled).
_JS = """
const CARD = "st-key-CARD_PREFIX", COLUMN = "st-key-COLUMN_PREFIX";
const READY = "READY_ATTR", HOLD_MS = HOLD_VALUE, MOVE_PX = MOVE_VALUE;

function idOf(el, prefix) {
  for (const c of el.classList) if (c.startsWith(prefix)) return c.slice(prefix.length);
  return null;
}
function cardOf(target) {
  return target instanceof Element ? target.closest(`[class*="${CARD}"]`) : null;
}
function zoneAt(x, y) {
  const hit = document.elementFromPoint(x, y);
  const column = hit ? hit.closest('[data-testid="stColumn"]') : null;
  const inner = column && column.querySelector(`[class*="${COLUMN}"]`);
  return inner ? { column, stage: idOf(inner, COLUMN) } : null;
}

export default function ({ data, setTriggerValue, parentElement }) {
  const live = parentElement.querySelector(".isv-board-drag");
  let s = window.isvBoardDrag;
  if (!s) {
    s = window.isvBoardDrag = { data, send: setTriggerValue, live, press: null, drag: null,
                                over: null, hold: null, dragged: false };
    const highlight = (column) => {
      if (s.over === column) return;
      if (s.over) s.over.classList.remove("isv-drop-target");
      s.over = column;
      if (column) column.classList.add("isv-drop-target");
    };
    const lift = () => {
      const p = s.press;
      if (!p || !p.card.isConnected) return;
      s.drag = p;
      p.card.classList.add("isv-dragging");
      document.body.classList.add("isv-drag-active");
      const selection = window.getSelection();
      if (selection) selection.removeAllRanges();
    };
    const follow = (x, y) => {
      const d = s.drag;
      d.card.style.transform = `translate(${x - d.x}px, ${y - d.y}px)`;
      const zone = zoneAt(x, y);
      highlight(zone && zone.stage !== s.data.cards[d.id][0] ? zone.column : null);
    };
    const finish = (x, y, drop) => {
      clearTimeout(s.hold);
      const d = s.drag;
      s.press = s.drag = null;
      if (!d) return;
      d.card.classList.remove("isv-dragging");
      d.card.style.transform = "";
      document.body.classList.remove("isv-drag-active");
      highlight(null);
      s.dragged = true;  // the click that ends a mouse drag opens nothing
      setTimeout(() => { s.dragged = false; }, 0);
      const zone = drop ? zoneAt(x, y) : null;
      const [from, version] = s.data.cards[d.id] || [null, null];
      if (zone && from && zone.stage !== from) {
        d.card.classList.add("isv-moving");
        s.live.textContent = `Moving to ${s.data.stages[zone.stage] || zone.stage}…`;
        s.send("drop", { id: d.id, to: zone.stage, version });
      }
    };
    document.addEventListener("pointerdown", (ev) => {
      if (!ev.isPrimary || (ev.pointerType === "mouse" && ev.button !== 0)) return;
      const card = cardOf(ev.target);
      const id = card && idOf(card, CARD);
      // The Move menu's button stays a button: pressing it never starts a drag.
      if (!id || !s.data.cards[id] || ev.target.closest("button, input, textarea")) return;
      s.press = { id, card, x: ev.clientX, y: ev.clientY, pointer: ev.pointerId,
                  touch: ev.pointerType !== "mouse" };
      if (s.press.touch) s.hold = setTimeout(lift, HOLD_MS);
    });
    document.addEventListener("pointermove", (ev) => {
      const p = s.press;
      if (!p || ev.pointerId !== p.pointer) return;
      if (!s.drag) {
        if (Math.hypot(ev.clientX - p.x, ev.clientY - p.y) < MOVE_PX) return;
        if (p.touch) {  // moved before the hold: a swipe, the page scrolls
          clearTimeout(s.hold);
          s.press = null;
          return;
        }
        lift();
      }
      if (s.drag) {
        ev.preventDefault();
        follow(ev.clientX, ev.clientY);
      }
    });
    document.addEventListener("pointerup", (ev) => {
      if (s.press && ev.pointerId === s.press.pointer) finish(ev.clientX, ev.clientY, true);
    });
    document.addEventListener("pointercancel", (ev) => {
      if (s.press && ev.pointerId === s.press.pointer) finish(0, 0, false);
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && s.drag) finish(0, 0, false);
    });
    // A lifted card's finger must not scroll the page (the first move after the hold is
    // still cancelable), nor a long press open the browser's menu over it.
    document.addEventListener("touchmove", (ev) => { if (s.drag) ev.preventDefault(); },
                              { passive: false });
    document.addEventListener("contextmenu", (ev) => {
      if (s.drag || (s.press && s.press.touch)) ev.preventDefault();
    });
    // The browser's own drag of a card's link or text would take the pointer away.
    document.addEventListener("dragstart", (ev) => {
      if (cardOf(ev.target)) ev.preventDefault();
    });
    document.addEventListener("click", (ev) => {
      if (s.dragged) { ev.preventDefault(); ev.stopPropagation(); }
    }, true);
  }
  s.data = data;
  s.send = setTriggerValue;
  s.live = live;
  document.querySelectorAll(".isv-moving").forEach((el) => el.classList.remove("isv-moving"));
  const mark = () => {
    for (const id of Object.keys(s.data.cards)) {
      const card = document.querySelector(`.${CARD}${id}`);
      if (card && !card.hasAttribute(READY)) card.setAttribute(READY, "ready");
    }
  };
  mark();
  // Streamlit may draw the cards after this element; mark them once they are there.
  const watch = new MutationObserver(mark);
  watch.observe(document.body, { childList: true, subtree: true });
  const stop = setTimeout(() => watch.disconnect(), 3000);
  return () => { clearTimeout(stop); watch.disconnect(); };
}
""".replace("CARD_PREFIX", CARD_KEY_PREFIX).replace("COLUMN_PREFIX", COLUMN_KEY_PREFIX) \
    .replace("READY_ATTR", READY).replace("HOLD_VALUE", str(HOLD_MS)) \
    .replace("MOVE_VALUE", str(MOVE_PX))

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
