"""`make test`'s dependency audit (tools/audit.py): one line offline, fails on a finding."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "tools" / "audit.py"
FAKE = """
import json, sys
from pathlib import Path
Path(sys.argv[1]).write_text(json.dumps(sys.argv[2:]))
print("Found 1 known vulnerability in 1 package" if sys.argv[0].endswith("finds.py") else
      "No known vulnerabilities found")
sys.exit(1 if sys.argv[0].endswith("finds.py") else 0)
"""


@pytest.fixture
def advisories():
    """A local stand-in for PyPI's per-release JSON: path /data answers with advisory data."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/data":
                self.send_error(404)
                return
            body = json.dumps({"info": {}, "vulnerabilities": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def audit(tmp_path: Path, probe: str, fake: str = "clean.py"):
    script = tmp_path / fake
    script.write_text(FAKE)
    called = tmp_path / "called.json"
    done = subprocess.run(
        [sys.executable, str(AUDIT), "--probe-url", probe, "--timeout", "2", "--pip-audit",
         f"{sys.executable} {script} {called}", "a.lock", "b.lock"],
        capture_output=True, text=True, timeout=60)
    return done, (json.loads(called.read_text()) if called.exists() else None)


def test_offline_it_says_so_in_one_line_and_passes_without_running_pip_audit(tmp_path):
    done, called = audit(tmp_path, "http://127.0.0.1:1/data")
    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert line.startswith("pip-audit: skipped, advisory service unreachable: ")
    assert called is None


def test_a_mirror_without_advisory_data_counts_as_unreachable(tmp_path, advisories):
    done, called = audit(tmp_path, f"{advisories}/missing")
    assert done.returncode == 0
    assert done.stdout.strip() == ("pip-audit: skipped, advisory service unreachable: "
                                   f"HTTP 404 from {advisories}/missing")
    assert called is None


def test_online_a_finding_fails_the_run(tmp_path, advisories):
    done, called = audit(tmp_path, f"{advisories}/data", fake="finds.py")
    assert done.returncode != 0
    assert "Found 1 known vulnerability" in done.stdout
    assert called[:1] == ["--strict"] and ["-r", "a.lock"] == called[-4:-2] \
        and ["-r", "b.lock"] == called[-2:]


def test_online_a_clean_audit_passes(tmp_path, advisories):
    done, called = audit(tmp_path, f"{advisories}/data")
    assert done.returncode == 0 and called is not None
    assert "No known vulnerabilities found" in done.stdout
