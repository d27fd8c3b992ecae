"""How many worker processes `isv api` starts, and what it hands them to share."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi import FastAPI

from isv import cli
from isv.api import workers
from isv.api.limits import SharedFileCounter
from isv.config import get_settings


@pytest.fixture
def settings_from_env(monkeypatch):
    monkeypatch.delenv("ISV_API_WORKERS", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_by_default_one_worker_a_core_at_most_four():
    assert workers.worker_count(0, cores=1) == 1
    assert workers.worker_count(0, cores=2) == 2
    assert workers.worker_count(0, cores=16) == workers.MAX_DEFAULT_WORKERS == 4


def test_a_configured_count_wins_over_the_cores():
    assert workers.worker_count(6, cores=2) == 6
    assert workers.worker_count(1, cores=16) == 1


def test_a_container_cpu_quota_caps_the_cores(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")        # one and a half cores: two workers
    assert workers.usable_cores(quota) == min(2, len(os.sched_getaffinity(0)))
    quota.write_text("max 100000\n")
    assert workers.usable_cores(quota) == len(os.sched_getaffinity(0))
    assert workers.usable_cores(tmp_path / "absent") == len(os.sched_getaffinity(0))


def test_a_negative_worker_count_names_the_variable(settings_from_env):
    settings_from_env.setenv("ISV_API_WORKERS", "-1")
    get_settings.cache_clear()
    with pytest.raises(RuntimeError, match="ISV_API_WORKERS"):
        get_settings()


def test_the_shared_folder_lives_as_long_as_the_server_and_restores_the_environment():
    with workers.shared_folder(1) as none:
        assert none is None and workers.shared_dir() is None
    with workers.shared_folder(2) as folder:
        assert folder is not None and (folder / "metrics").is_dir()
        assert workers.shared_dir() == folder
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder / "metrics")
    assert not folder.exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ and workers.shared_dir() is None


def test_two_processes_counting_in_the_shared_file_count_together(tmp_path):
    first, second = (SharedFileCounter(tmp_path / "limits.sqlite3") for _ in range(2))
    assert [first.hit("addr:x", 7), second.hit("addr:x", 7), first.hit("addr:x", 7)] == [1, 2, 3]
    assert second.hit("addr:y", 7) == 1
    assert second.hit("addr:x", 8) == 1      # a new minute starts from nothing


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(settings_from_env):
    """What `isv api` hands its worker supervisor or uvicorn, with the environment the
    workers would inherit."""
    calls: list[tuple[object, dict, dict]] = []

    def shared() -> dict:
        return {k: os.environ.get(k) for k in ("PROMETHEUS_MULTIPROC_DIR",
                                               workers.SHARED_DIR_VARIABLE)}

    def supervise(count, **options):
        calls.append((count, options, shared()))
        return 0

    def run(app, **options):
        calls.append((app, options, shared()))

    settings_from_env.setattr(workers, "supervise", supervise)
    settings_from_env.setattr(uvicorn, "run", run)
    return calls


def _isv_api(*args: str):
    result = CliRunner().invoke(cli.main, ["api", "--port", str(_free_port()), *args])
    assert result.exit_code == 0, result.output
    return result


def test_isv_api_starts_the_workers_it_is_asked_for_with_a_shared_folder(served):
    result = _isv_api("--workers", "3")
    [(count, options, env)] = served
    assert count == 3 and options["options"]["proxy_headers"] is False
    assert "3 worker processes" in result.output
    folder = Path(env[workers.SHARED_DIR_VARIABLE])
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(folder / "metrics")
    assert not folder.exists()      # removed once the workers ended


def test_isv_api_reads_its_worker_count_from_the_settings(served, settings_from_env):
    settings_from_env.setenv("ISV_API_WORKERS", "2")
    get_settings.cache_clear()
    _isv_api()
    assert served[0][0] == 2


def test_without_a_balancing_kernel_uvicorn_runs_the_workers(served, settings_from_env):
    settings_from_env.setattr(workers, "kernel_balanced", lambda: False)
    _isv_api("--workers", "2")
    [(app, options, env)] = served
    assert app == workers.APP and options["factory"] is True and options["workers"] == 2
    assert options["timeout_worker_healthcheck"] == workers.HEALTHCHECK_SECONDS
    assert env[workers.SHARED_DIR_VARIABLE]


def test_one_worker_serves_the_app_in_this_process_as_before(served):
    _isv_api("--workers", "1")
    [(app, options, env)] = served
    assert isinstance(app, FastAPI) and "workers" not in options
    assert env == {"PROMETHEUS_MULTIPROC_DIR": None, workers.SHARED_DIR_VARIABLE: None}
