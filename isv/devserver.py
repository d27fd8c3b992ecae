"""A server of ours in a subprocess, for the browser tests and the benchmarks.

Started with its output in a log file, waited for until its health address answers (the log
shown if it exits first or never answers), stopped with SIGTERM and, if it hangs, SIGKILL.
Nothing the app runs imports this module.
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOP_SECONDS = 15


# Ports are drawn below the kernel's ephemeral range (32768 up on Linux), from which every
# outgoing connection takes its local port: a port drawn from that range could be taken by a
# connection between the draw and the server's bind, which happened to nginx in CI.
PORTS = range(20000, 32768)


def free_port() -> int:
    """A port free now on every address, outside the ephemeral range: never a fixed number
    other runs could hold."""
    for port in random.sample(PORTS, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def start(command: Sequence[str], *, env: Mapping[str, str], log: Path,
          cwd: Path = ROOT) -> subprocess.Popen:
    """Start `command` in the project directory, its output (both streams) in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(list(command), cwd=cwd, env=dict(env), stdout=out,
                                stderr=subprocess.STDOUT)


def wait_healthy(proc: subprocess.Popen, health_url: str, log: Path, *,
                 timeout: float = 60) -> None:
    """Return once `health_url` answers 200; raise with the log if `proc` ends first or the
    time runs out (with the last answer: a 503 says why, e.g. a schema not at head)."""
    deadline = time.monotonic() + timeout
    answer = "no answer"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{_name(proc)} exited early (code {proc.returncode}):\n"
                               f"{log.read_text()}")
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:
                if response.status == 200:
                    return
                answer = str(response.status)
        except urllib.error.HTTPError as exc:
            answer = f"{exc.code} {exc.read().decode(errors='replace')[:500]}"
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{_name(proc)} did not become healthy in {timeout:g} s "
                               f"({answer}):\n{log.read_text()}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen, timeout: float = STOP_SECONDS) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    stop_all([proc], timeout)


def stop_all(procs: Sequence[subprocess.Popen], timeout: float = STOP_SECONDS) -> None:
    """Stop several at once, the last started first: all are sent SIGTERM before any is
    waited for, so their shutdowns overlap; one still running `timeout` seconds later is
    killed."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def serving(command: Sequence[str], *, env: Mapping[str, str], health_url: str, log: Path,
            timeout: float = 60, cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """The server of `command`, healthy, for the `with` block; stopped after it."""
    proc = start(command, env=env, log=log, cwd=cwd)
    try:
        wait_healthy(proc, health_url, log, timeout=timeout)
        yield proc
    finally:
        stop(proc)


def _name(proc: subprocess.Popen) -> str:
    """`streamlit run …` or `isv.cli api …`: the words after `python -m`, for messages."""
    args = [str(a) for a in proc.args]
    if len(args) > 2 and args[1] == "-m":
        args = args[2:]
    return " ".join(args[:2])
