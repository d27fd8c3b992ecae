"""The production files agree with the code: every setting documented, limits and flags equal."""

from __future__ import annotations

import ipaddress
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
    read = set(re.findall(r'(?:env|_int|_switch|_proxies|_workers|_positive)\("([A-Z_]+)"', source))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read and read <= documented, sorted(read - documented)


def test_env_example_sets_every_variable_docker_compose_substitutes():
    compose = (ROOT / "docker-compose.yml").read_text()
    substituted = set(re.findall(r"\$\{([A-Z_]+)", compose))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert substituted <= documented, sorted(substituted - documented)


def _api_location() -> str:
    return re.search(r"\n    location /api/ \{\n(.*?)\n    \}", TEMPLATE.read_text(), re.S)[1]


def test_nginx_accepts_an_upload_as_large_as_streamlit_does_plus_its_envelope():
    streamlit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit_mb = streamlit["server"]["maxUploadSize"]
    outside_api = TEMPLATE.read_text().replace(_api_location(), "")
    [body] = re.findall(r"client_max_body_size (\d+)m;", outside_api)
    assert int(body) == limit_mb + 1


def test_nginx_lets_an_api_body_through_up_to_twice_the_apis_own_limit():
    """So a client over the limit reads the API's JSON 413, not nginx's HTML page."""
    [body] = re.findall(r"client_max_body_size (\d+)m;", _api_location())
    api_limit = get_settings().api_max_body_bytes
    assert api_limit < int(body) * 1024 * 1024 <= 2 * api_limit


def test_nginx_passes_api_clients_their_own_address_and_caches_nothing():
    location = _api_location()
    assert "proxy_pass http://isv_api;" in location
    # Overwritten, not appended to: a client's own X-Forwarded-For never reaches the API.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in location
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in location
    assert "proxy_cache off;" in location
    # An add_header here would drop the server's security headers from every API answer.
    assert "add_header" not in location


def test_the_api_service_is_healthchecked_unpublished_and_started_after_the_migration():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    api = services["api"]
    assert api["image"] == services["app"]["image"]
    command = api["command"]
    assert command[:2] == ["isv", "api"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "ports" not in api and api["expose"] == [port]
    probe = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/api/v1/health" in probe
    assert api["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                 "redis": {"condition": "service_healthy"}}
    assert services["nginx"]["depends_on"]["api"] == {"condition": "service_healthy"}
    assert services["nginx"]["environment"]["ISV_API_SERVERS"] == f"server api:{port};"
    environment = api["environment"]
    assert environment.items() >= compose["x-isv"]["environment"].items()
    assert environment["ISV_API_KEY"].startswith("${ISV_API_KEY:?")


def test_the_api_believes_forwarded_addresses_only_from_private_networks(monkeypatch):
    """Where nginx is; the API publishes no port, so no public client reaches it directly."""
    api = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["api"]
    monkeypatch.setenv("ISV_API_TRUSTED_PROXIES", api["environment"]["ISV_API_TRUSTED_PROXIES"])
    get_settings.cache_clear()
    try:
        trusted = [ipaddress.ip_network(n) for n in get_settings().api_trusted_proxies]
    finally:
        get_settings.cache_clear()
    assert trusted and all(network.is_private for network in trusted)


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
    always = {name: spec for name, spec in services.items() if "profiles" not in spec}
    assert [name for name, spec in always.items() if "ports" in spec] == ["nginx"]
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
    assert "pip install --quiet --python $(BIN)/python -r $(LOCK)" in makefile
    assert "pip install --quiet --python $(BIN)/python -r $(DEV_LOCK)" in makefile
    assert makefile.count("pip install --quiet --python $(BIN)/python --no-deps -e .") == 2
    assert not re.search(r"pip install[^\n]*-e \"?\.\[dev\]", makefile)
    assert "$(BIN)/python tools/audit.py" in makefile.split("\ntest:", 1)[1].split("\n\n")[0]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" in dockerfile
    assert "pip install --no-deps -e ." in dockerfile
