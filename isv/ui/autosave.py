"""A text box that saves as the user types.

Streamlit's own text area reports its value only when the box loses focus, so a reload
while typing loses the text. This box (a components v2 element: plain HTML, CSS and JS
served by Streamlit itself, no iframe, no network) sends its value half a second after the
last keystroke; the page's callback saves it, and the next run sends the stored text and
the save time back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import streamlit as st

from isv.services.settings import local_today, local_zone

DEBOUNCE_MS = 500

_HTML = """
<div class="isv-autosave">
  <label class="label" for="box"></label>
  <textarea id="box" class="box" spellcheck="true" aria-describedby="help status"></textarea>
  <div class="foot">
    <span id="help" class="help"></span>
    <span id="status" class="status" role="status" aria-live="polite"></span>
  </div>
</div>
"""

# Streamlit's text area, drawn with the theme's variables.
_CSS = """
.isv-autosave { font-family: var(--st-font); color: var(--st-text-color); }
.label { display: block; font-size: 0.875rem; line-height: 1.6; margin-bottom: 0.25rem; }
.box {
  box-sizing: border-box; width: 100%; resize: vertical; min-height: 4.5rem;
  padding: 0.75rem; font: inherit; font-size: 0.875rem; line-height: 1.4;
  color: inherit; background: var(--st-secondary-background-color);
  border: 1px solid var(--st-border-color);
  border-radius: var(--st-base-radius, 0.5rem); outline: none;
}
.box:focus { border-color: var(--st-primary-color); }
.box:focus-visible { box-shadow: 0 0 0 1px var(--st-primary-color); }
.box:disabled { opacity: 0.6; cursor: not-allowed; }
.foot {
  display: flex; justify-content: space-between; gap: 1rem; min-height: 1.4rem;
  font-size: 0.8rem; line-height: 1.4rem; opacity: 0.75;
}
.status { margin-left: auto; white-space: nowrap; }
.status.refused { color: #b3261e; opacity: 1; font-weight: 600; white-space: normal; }
"""

# State lives on the textarea, because Streamlit calls this function again (same DOM) each
# time the data changes. The box is written only when the server's text changed for a
# reason other than our own send, so a rerun never moves the caret or drops a keystroke.
# Until the server has the text, a copy waits in the tab's sessionStorage: a reload within
# the debounce (the socket closes before the send is run) restores and sends it.
_JS = """
export default function ({ parentElement, data, setStateValue }) {
  const box = parentElement.querySelector("textarea");
  const status = parentElement.querySelector(".status");
  const help = parentElement.querySelector(".help");
  parentElement.querySelector("label").textContent = data.label;
  help.textContent = data.help || "";
  box.disabled = Boolean(data.disabled);
  if (data.max_chars) box.maxLength = data.max_chars;

  function show(text, refused) {
    status.textContent = text;
    status.classList.toggle("refused", refused);
  }
  function keep(text) {
    try {
      if (text === null) sessionStorage.removeItem(data.copy_id);
      else sessionStorage.setItem(data.copy_id, text);
    } catch (e) { /* storage off: the debounced send still saves */ }
  }
  function kept() {
    try { return sessionStorage.getItem(data.copy_id); } catch (e) { return null; }
  }

  let s = box.autosave;
  if (!s) {
    s = box.autosave = { server: null, sent: null, timer: null, send: null };
    box.style.height = `${data.height}px`;
    s.flush = () => {
      if (s.timer === null) return;
      clearTimeout(s.timer);
      s.timer = null;
      s.sent = box.value;
      s.send("value", box.value);
    };
    s.later = () => {
      clearTimeout(s.timer);
      s.timer = setTimeout(s.flush, data.debounce_ms);
      show("Saving…", false);
    };
    box.addEventListener("input", () => {
      keep(box.value);
      s.later();
    });
    box.addEventListener("blur", () => s.flush());
    // Text typed in the last moment before a reload is still in this tab's storage.
    const unsent = kept();
    if (unsent !== null && !data.disabled && unsent !== data.value) {
      box.value = unsent;
      s.server = data.value;
      s.later();
    }
  }
  s.send = setStateValue;

  if (data.value !== s.server) {
    s.server = data.value;
    if (data.value !== s.sent && s.timer === null && box.value !== data.value) {
      box.value = data.value;
    }
  }
  if (s.timer !== null || box.value !== data.value) {
    show("Saving…", false);
  } else {
    keep(null);
    if (data.error) show(data.error, true);
    else show(data.saved ? `Saved ${data.saved}` : "", false);
  }
}
"""

_BOX = st.components.v2.component("isv.autosave_text", html=_HTML, css=_CSS, js=_JS)


def box_key(key: str) -> str:
    """The component's own key, beside the text kept under `key`."""
    return f"{key}-box"


def _typed(key: str, on_change: Callable[..., Any] | None, args: tuple,
           kwargs: dict[str, Any]) -> None:
    st.session_state[key] = (st.session_state[box_key(key)] or {}).get("value") or ""
    if on_change is not None:
        on_change(*args, **kwargs)


def _when(saved_at: datetime) -> str:
    """The time of a save made today; the day as well for one made earlier."""
    local = saved_at.astimezone(local_zone())
    return local.strftime("%H:%M:%S") if local.date() == local_today() \
        else f"{local:%b} {local.day}, {local:%H:%M}"


def autosave_text(label: str, *, key: str, value: str = "",
                  on_change: Callable[..., Any] | None = None, args: tuple = (),
                  kwargs: dict[str, Any] | None = None, help: str | None = None,
                  disabled: bool = False, height: int = 170, max_chars: int | None = None,
                  saved_at: datetime | None = None, error: str | None = None,
                  owner: str = "") -> str:
    """A labelled text box whose text is in st.session_state[key] and reaches `on_change`
    within a second of typing, without leaving the box.

    `value` is the first text (kept until the user types); `saved_at` and `error` are what
    the box says under itself: "Saved hh:mm:ss", or the error (e.g. "Not saved: why"). `owner`
    (the signed-in user) keeps one person's unsent text from reaching another's box.
    """
    if key not in st.session_state:
        st.session_state[key] = value
    text = st.session_state[key]
    saved = _when(saved_at) if saved_at else None
    _BOX(key=box_key(key),
         data={"label": label, "value": text, "help": help, "disabled": disabled,
               "height": height, "max_chars": max_chars, "saved": saved, "error": error,
               "debounce_ms": DEBOUNCE_MS, "copy_id": f"isv.autosave/{owner}/{key}"},
         on_value_change=partial(_typed, key, on_change, args, kwargs or {}))
    return text
