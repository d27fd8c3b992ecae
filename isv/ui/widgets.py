"""Shared page pieces: calling a service, reporting its refusals, escaping user text."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import streamlit as st

from isv import logs
from isv.db import session_scope
from isv.errors import Conflict, Forbidden, NotFound, ValidationError
from isv.ui import state

T = TypeVar("T")
log = logging.getLogger("isv.ui")

# Every ASCII character that Markdown (and Streamlit's additions: $ for math, : for
# directives and emoji, ~ for strikethrough) may read as syntax. A backslash before ASCII
# punctuation always renders as the character itself, so escaping all of them is safe.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=\"'^%/;?])")


def escape_md(text: Any) -> str:
    """Make any text safe to show through st.markdown, st.error and friends: shown as typed."""
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))
    # An email address, escaped or not, becomes a mailto link; an invisible word joiner
    # after the @ keeps it plain text.
    escaped = escaped.replace("@", "@\u2060")
    # A newline would end a Markdown block (and could start a heading or list); keep it a
    # line break instead.
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")


class FieldErrors:
    """Placeholders under a form's inputs, so a rejected value is reported next to its input.

    Call `slot(field, label)` right after drawing the input for `field` (the name a service
    puts in ValidationError.field); `show` writes the error into that placeholder, or at the
    current position when the field has none.
    """

    def __init__(self) -> None:
        self._slots: dict[str, Any] = {}
        self._labels: dict[str, str] = {}

    def slot(self, field: str, label: str) -> None:
        self._labels[field] = label
        self._slots[field] = st.empty()

    def message(self, error: ValidationError) -> str:
        label = self._labels.get(error.field, error.field.replace("_", " ").capitalize())
        return f"{label}: {error.reason}"

    def show(self, error: ValidationError) -> None:
        target = self._slots.get(error.field, st)
        target.error(escape_md(self.message(error)), icon=":material/error:")


def run(fn: Callable[..., T], /, *, errors: FieldErrors | None = None, **kwargs: Any) -> T | None:
    """Call a service in one transaction as the signed-in viewer; report a refusal and return None.

    A ValidationError goes next to its input (see FieldErrors); Forbidden, NotFound and
    Conflict are shown as an error at the current position. Anything else is a bug and
    propagates.
    """
    viewer = state.current_viewer()
    if viewer is None:
        st.error("Please sign in.")
        return None
    try:
        with session_scope() as session:
            result = fn(session=session, viewer=viewer, **kwargs)
            session.commit()
            return result
    except ValidationError as exc:
        log.info("service refused: %s", exc, extra=logs.service_context(fn, viewer, exc))
        (errors or FieldErrors()).show(exc)
    except (Forbidden, NotFound, Conflict) as exc:
        log.warning("service refused: %s", exc, extra=logs.service_context(fn, viewer, exc))
        st.error(escape_md(str(exc)), icon=":material/block:")
    except Exception as exc:
        log.exception("service failed", extra=logs.service_context(fn, viewer, exc))
        raise
    return None


FLASH_SECONDS = 10


def flash(message: str) -> None:
    """Keep a confirmation to show after the next st.rerun()."""
    st.session_state[state.FLASH] = (message, time.monotonic())


def show_flash() -> None:
    """Show the pending confirmation for a few seconds of reruns, not just the next one.

    Streamlit may rerun on its own right after a save (a component reporting back), and a
    message shown for one run only would vanish before anyone read it.
    """
    pending = st.session_state.get(state.FLASH)
    if not pending:
        return
    message, since = pending
    if time.monotonic() - since > FLASH_SECONDS:
        st.session_state.pop(state.FLASH, None)
        return
    st.success(escape_md(message), icon=":material/check_circle:")


def same_as_stored(current: Any, typed: Any) -> bool:
    """Whether what a form holds is what is stored (text compared as shown, blanks as None).

    Amounts compare by value: a grid cell sends 20000.0 for a stored 20000.00.
    """
    if isinstance(typed, str):
        typed = typed.strip() or None
    if isinstance(current, str):
        current = current.strip() or None
    if current is None or typed is None:
        return current is None and typed is None
    numbers = (Decimal, int, float)
    if isinstance(current, numbers) and isinstance(typed, (*numbers, str)) \
            and not isinstance(current, bool) and not isinstance(typed, bool):
        try:
            return Decimal(str(typed)) == current
        except InvalidOperation:
            return False
    return str(current) == str(typed)


def reset(*keys: str) -> None:
    """Forget widget values so the widgets start empty on the next run."""
    for key in keys:
        st.session_state.pop(key, None)
