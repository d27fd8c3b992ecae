"""Text in CSV cells that no spreadsheet evaluates, and that imports back unchanged.

A spreadsheet opening a CSV file reads a cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula ("CSV injection", OWASP). Every CSV the app writes passes its
text cells through `guard`: such a cell gets a single quote in front, the OWASP remedy,
which spreadsheets show as text. A text that itself begins with a quote gets one more, so
that `unguard`, which the importer applies to the text cells of a CSV file, undoes exactly
that and nothing else: every text comes back as it was written.

Only text is guarded. Amounts, percentages, whole numbers, dates, timestamps and flags are
checked as such on import, so they cannot hold a formula, and a negative amount must stay
the number -5.00 for a spreadsheet to add it up. Workbooks (.xlsx) need none of this: their
text cells are typed as text.
"""

from __future__ import annotations

QUOTE = "'"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = frozenset((*FORMULA_STARTS, QUOTE))


def guard(text: str) -> str:
    """`text` as a CSV cell a spreadsheet shows as text, never evaluates."""
    return QUOTE + text if text[:1] in _GUARDED else text


def unguard(text: str) -> str:
    """The text a guarded CSV cell stands for: one leading quote removed, if `guard` put it."""
    return text[1:] if text[:1] == QUOTE and text[1:2] in _GUARDED else text
