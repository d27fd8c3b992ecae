"""`isv --help` answers at once: the command line loads a command's modules only when it runs.

Issue 15 asks `isv --help` in 0.5 s; it took 2-3 s when importing isv.cli pulled in plotly,
pandas and SQLAlchemy through the chart renderer, the importer and the models.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "pandas", "plotly", "numpy", "streamlit", "fastapi", "openpyxl")


def test_the_command_line_loads_no_database_or_chart_library_until_a_command_runs():
    probe = ("import sys, isv.cli; "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""


def test_help_lists_every_command_group():
    out = subprocess.run([sys.executable, "-m", "isv.cli", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    for command in ("migrate", "demo", "user", "report", "import", "export", "run", "api"):
        assert f"  {command}" in out.stdout
