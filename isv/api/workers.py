"""The API's worker processes: how many, and the folder they share on one machine.

One uvicorn process runs its Python on one core at a time (the GIL), so on a machine with
more cores `isv api` serves with several worker processes on the same port. On Linux each
worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
evenly over them (`supervise`). uvicorn's own --workers shares one socket, and a worker's
asyncio loop accepts every connection waiting when it wakes: 20 clients connecting at once,
or nginx opening its kept-alive connections, all landed on one worker while the other idled
(bench/README.md, "REST API"). Elsewhere uvicorn's --workers serves. The default is one a core
this process may use (its CPU affinity and, in a container, its cgroup quota), at most
MAX_DEFAULT_WORKERS: each worker holds up to 15 PostgreSQL connections (pool 5 + overflow
10, isv/db.py), so 4 workers, 3 app replicas and the scheduler stay within PostgreSQL's
default max_connections of 100 at their everyday use. ISV_API_WORKERS sets any other count.

What the workers must agree on lives outside any one of them: rate-limit counts in Redis
when configured (isv/api/limits.py), else in a small SQLite file in the shared folder; the
Prometheus samples in prometheus_client's multiprocess files in the same folder, so one
scrape of the port sums every worker (isv/metrics.py); login lockouts, tokens and the data
version are in the database and Redis (or the data-version file) already.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger("isv.api")

MAX_DEFAULT_WORKERS = 4
# How long uvicorn's parent waits for a worker to answer its ping before replacing it.
HEALTHCHECK_SECONDS = 60
# A worker that ends sooner after its start is taken for a failed start (a bad setting, the
# port taken), which a replacement would repeat: the server stops instead.
START_SECONDS = 60
STOP_SECONDS = 30
APP = "isv.api.app:create_app"
# Set by `isv api` for its workers (not an operator's setting): the folder they share.
SHARED_DIR_VARIABLE = "ISV_API_SHARED_DIR"
# prometheus_client's own variable: its values go to files there, one set per process.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on: its affinity, capped by a cgroup CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return max(1, cores)
    if quota != "max" and quota.isdigit() and period.isdigit() and int(period) > 0:
        cores = min(cores, math.ceil(int(quota) / int(period)))
    return max(1, cores)


def worker_count(configured: int, *, cores: int | None = None) -> int:
    """ISV_API_WORKERS when set (1 or more), else one a core, at most MAX_DEFAULT_WORKERS."""
    if configured > 0:
        return configured
    return min(cores or usable_cores(), MAX_DEFAULT_WORKERS)


@contextmanager
def shared_folder(workers: int) -> Iterator[Path | None]:
    """A fresh folder for `workers` processes to share, named in their environment.

    None for a single process, which keeps its counts and metrics in memory as before. The
    folder is new at every start (a multiprocess metrics folder must not hold a previous
    run's files) and removed at the end, with the environment as it was.
    """
    if workers <= 1:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="isv-api-"))
    (folder / "metrics").mkdir()
    saved = {name: os.environ.get(name) for name in (SHARED_DIR_VARIABLE, METRICS_DIR_VARIABLE)}
    os.environ[SHARED_DIR_VARIABLE] = str(folder)
    os.environ[METRICS_DIR_VARIABLE] = str(folder / "metrics")
    try:
        yield folder
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)


def shared_dir() -> Path | None:
    """The folder this worker shares with the others, or None when it serves alone."""
    value = os.environ.get(SHARED_DIR_VARIABLE)
    return Path(value) if value else None


def kernel_balanced() -> bool:
    """Whether the kernel spreads connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port beside the other workers' (SO_REUSEPORT)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def supervise(count: int, *, host: str, port: int, options: dict[str, Any]) -> int:
    """Run `count` workers until SIGTERM, SIGINT or SIGHUP; replace one that ends.

    Each is a uvicorn server in a process of its own, with its own socket on host:port.
    Stopping passes SIGTERM on, so each finishes the calls it is answering (uvicorn's
    graceful shutdown), and kills one still running after STOP_SECONDS. Returns the exit
    code: 0, or a worker's that failed to start.
    """
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

    def start() -> tuple[Any, float]:
        process = spawn.Process(target=_worker, args=(host, port, options), name="isv-api")
        process.start()
        return process, time.monotonic()

    running = [start() for _ in range(count)]
    code = 0
    try:
        while not stop.wait(0.5):
            for n, (process, started) in enumerate(running):
                if process.is_alive():
                    continue
                if time.monotonic() - started < START_SECONDS:
                    log.error("API worker %s ended while starting (exit %s); stopping",
                              process.pid, process.exitcode)
                    code = process.exitcode or 1
                    stop.set()
                    break
                log.warning("API worker %s ended (exit %s); starting another", process.pid,
                            process.exitcode)
                running[n] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()
        for process, _ in running:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
