"""The production files agree with the code: every setting documented, limits and flags equal."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from isv import cli
from isv.config import get_settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "isv.conf.template"


def test_env_example_lists_every_variable_the_settings_read():
    source = (ROOT / "isv" / "config.py").read_text()
    read = set(re.findall(r'(?:env|_int)\("([A-Z_]+)"', source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read and read <= documented, sorted(read - documented)


def test_env_example_sets_every_variable_docker_compose_substitutes():
    compose = (ROOT / "docker-compose.yml").read_text()
    substituted = set(re.findall(r"\$\{([A-Z_]+)", compose))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert substituted <= documented, sorted(substituted - documented)


def test_nginx_accepts_an_upload_as_large_as_streamlit_does_plus_its_envelope():
    streamlit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit_mb = streamlit["server"]["maxUploadSize"]
    [body] = re.findall(r"client_max_body_size (\d+)m;", TEMPLATE.read_text())
    assert int(body) == limit_mb + 1


def test_the_app_replicas_start_streamlit_with_the_flags_isv_run_uses(monkeypatch):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["app"]["command"]
    dockerfile_cmd = re.search(r"^CMD (\[.*?\])$", (ROOT / "Dockerfile").read_text(),
                               re.M | re.S)[1]
    assert command == yaml.safe_load(dockerfile_cmd.replace("\\\n", ""))
    assert command[:3] == ["streamlit", "run", "serve.py"]
    monkeypatch.setenv("ISV_ENV", "production")
    get_settings.cache_clear()
    try:
        served = cli.streamlit_command("0.0.0.0", 8501)
    finally:
        get_settings.cache_clear()
    flags = served[served.index(str(cli.APP)) + 1:]
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        assert command[command.index(flag) + 1] == value, flag
    assert command[command.index("--client.showErrorDetails") + 1] == "none"


def test_only_nginx_publishes_ports_and_one_scheduler_runs():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert [name for name, spec in services.items() if "ports" in spec] == ["nginx"]
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert services["scheduler"]["command"] == ["python", "-m", "scheduler"]
    assert services["migrate"]["command"] == ["isv", "migrate"]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, sep, version = line.partition("==")
            assert sep and version, f"{name}: {line!r} is not pinned to one version"
            pins[re.sub(r"[-_.]+", "-", package).lower()] = version
    return pins


def _required(spec: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", spec)[0]).lower()


def test_the_locks_pin_everything_pyproject_asks_for_and_agree_with_each_other():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    app, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {_required(d) for d in project["dependencies"]} <= set(app)
    assert {_required(d) for d in project["optional-dependencies"]["dev"]} <= set(dev)
    assert {name: dev.get(name) for name in app} == app
    assert "isv-pipeline-tracker" not in app | dev


def test_make_and_the_image_install_the_locks_and_then_the_app_without_resolving():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -r $(LOCK)" in makefile
    assert "pip install --quiet -r $(DEV_LOCK)" in makefile
    assert makefile.count("pip install --quiet --no-deps -e .") == 2
    assert not re.search(r"pip install[^\n]*-e \"?\.\[dev\]", makefile)
    assert "$(BIN)/python tools/audit.py" in makefile.split("\ntest:", 1)[1].split("\n\n")[0]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" in dockerfile
    assert "pip install --no-deps -e ." in dockerfile
