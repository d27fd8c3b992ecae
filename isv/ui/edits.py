"""What a form was drawn from, so that a save sends only what the user changed.

A keyed widget keeps what the user typed across reruns while the record beneath it may
change (someone else saves). Comparing the widgets with freshly read data would send every
field the other person changed as if this user had typed its old value back: a silent lost
update. So each form keeps, in st.session_state, the values it was drawn from when it was
opened; it draws its widgets from them and, on save, sends only the fields whose widget
differs from them.

A form is "opened" on the first run that draws it: when its probe widget (any one of its
keyed inputs) has no state from the previous run, the kept values are replaced by fresh
ones. Leaving the page drops the widgets' state, so coming back opens the form afresh. After
a save, `renew` starts a new generation of widget keys, so the browser drops the old inputs
and the form is drawn from the saved record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from isv.ui.widgets import same_as_stored

_BASES = "isv_form_bases"
_GENERATIONS = "isv_form_generations"


def generation(name: str) -> int:
    """The current generation of a form's widget keys (0 until the first `renew`)."""
    return st.session_state.get(_GENERATIONS, {}).get(name, 0)


def keyed(name: str, stem: str) -> str:
    """`stem` for a form's widget keys, with the generation once the form has been renewed."""
    n = generation(name)
    return stem if n == 0 else f"{stem}_{n}"


def renew(name: str) -> None:
    """Start the form afresh on the next run: new widget keys, values read again."""
    generations = st.session_state.setdefault(_GENERATIONS, {})
    generations[name] = generations.get(name, 0) + 1
    bases = st.session_state.get(_BASES, {})
    for form in [f for f in bases if f == name or f.startswith(f"{name}@")]:
        del bases[form]


def drawn_from(form: str, fresh: Mapping[str, Any], *, probe: str) -> dict[str, Any]:
    """The values `form` was opened with: `fresh` on its first draw, the kept ones after.

    `form` names the record's form and its widget generation ("partner@<id>@<keys>");
    `probe` is the key of one of the form's inputs; without state for it the form was not on
    screen in the previous run, so it is being opened now.
    """
    bases = st.session_state.setdefault(_BASES, {})
    if form not in bases or probe not in st.session_state:
        # One kept set per record form: "name@generation" replaces the name's older ones.
        family = form.rsplit("@", 1)[0] + "@"
        for old in [f for f in bases if f.startswith(family) and f != form]:
            del bases[old]
        bases[form] = dict(fresh)
    return bases[form]


def changed(base: Mapping[str, Any], typed: Mapping[str, Any], *,
            same: Callable[[Any, Any], bool] = same_as_stored) -> dict[str, Any]:
    """The typed values that differ from what the form was drawn from."""
    return {name: value for name, value in typed.items() if not same(base[name], value)}

