"""A newcomer reads a module in one sitting: past ~500 lines its docstring says why."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 500


def test_every_module_over_500_lines_says_in_its_docstring_why_it_is_one_file():
    unexplained = []
    for path in sorted([*(ROOT / "isv").rglob("*.py"), *(ROOT / "pages").glob("*.py")]):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(source)) or ""
        if "over 500 lines" not in docstring:
            unexplained.append(f"{path.relative_to(ROOT)} ({source.count(chr(10))} lines)")
    assert not unexplained, "modules over 500 lines with no reason in their docstring: " + \
        ", ".join(unexplained)
