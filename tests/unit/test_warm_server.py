"""The login page warms a fresh server: the pages' modules and plotly's figure kinds load
while the first person types, not under their first clicks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from isv.config import PROJECT_ROOT


def test_warming_imports_every_page_module_and_builds_each_figure_kind_without_error():
    script = textwrap.dedent("""
        import sys, threading
        from isv.ui import login
        assert "isv.ui.grid" not in sys.modules and "isv.services.importing" not in sys.modules
        login.warm_server()
        login.warm_server()  # once per process
        [thread] = [t for t in threading.enumerate() if t.name == "isv-warm"]
        thread.join(timeout=120)
        missing = [m for m in ("isv.ui.grid", "isv.ui.board", "isv.services.importing",
                               "isv.analytics.pipeline", "isv.pack.pages",
                               "plotly.graph_objs._funnel") if m not in sys.modules]
        print("missing", missing)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "missing []" in done.stdout
    assert "warming the server failed" not in done.stderr
