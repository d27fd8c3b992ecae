"""isv.devserver: the one way the browser tests and the benchmarks start and stop a server."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from isv import devserver


def test_a_server_is_yielded_once_it_answers_and_stopped_after(tmp_path):
    port = devserver.free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with devserver.serving(command, env={}, health_url=f"http://127.0.0.1:{port}/",
                           log=tmp_path / "server.log", cwd=tmp_path, timeout=30) as proc:
        assert proc.poll() is None
    assert proc.returncode is not None


def test_a_server_that_exits_early_is_reported_with_its_log(tmp_path):
    command = [sys.executable, "-c", "print('no database here'); raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match=r"(?s)exited early \(code 3\).*no database here"):
        with devserver.serving(command, env={}, log=tmp_path / "server.log",
                               health_url=f"http://127.0.0.1:{devserver.free_port()}/"):
            pytest.fail("a server that exited was yielded")


def test_a_server_that_never_answers_is_reported_and_stopped(tmp_path):
    command = [sys.executable, "-c", "print('listening nowhere', flush=True); "
                                     "import time; time.sleep(60)"]
    proc = devserver.start(command, env={}, log=tmp_path / "server.log")
    try:
        with pytest.raises(RuntimeError, match=r"did not become healthy in 0.5 s"):
            devserver.wait_healthy(proc, f"http://127.0.0.1:{devserver.free_port()}/",
                                   tmp_path / "server.log", timeout=0.5)
    finally:
        devserver.stop(proc)
    assert proc.returncode == -signal.SIGTERM


def test_a_server_that_ignores_sigterm_is_killed(tmp_path):
    log = tmp_path / "server.log"
    command = [sys.executable, "-c", "import signal, time; "
               "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
               "time.sleep(60)"]
    proc = devserver.start(command, env={}, log=log)
    deadline = time.monotonic() + 30
    while "ready" not in log.read_text():  # SIGTERM is ignored from here on
        assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
        time.sleep(0.05)
    devserver.stop(proc, timeout=0.5)
    assert proc.returncode == -signal.SIGKILL


def test_a_free_port_is_outside_the_range_outgoing_connections_take_theirs_from():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {devserver.free_port() for _ in range(50)}
    assert all(port < low for port in ports)
    assert len(ports) > 40
