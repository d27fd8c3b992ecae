"""The monitoring profile's files, checked by Debian's own prometheus and alertmanager tools.

promtool checks the Prometheus config and rules and runs each alert rule's unit tests;
amtool checks the Alertmanager config as the compose entrypoint renders it. Without the
tools the tests skip; in CI (CI=true, where .ci/run installs them) they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "rules" / "isv.rules.yml"
# The minute-by-minute tests and those spanning days (evaluated every 15 minutes).
RULE_TESTS = sorted((MONITORING / "rules").glob("isv.rules*.test.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        if IN_CI:
            pytest.fail(f"{name} is missing (Debian's prometheus / prometheus-alertmanager)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus "
                    f"prometheus-alertmanager)")
    return found


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    # Generous: promtool's rule tests took 4 s alone on a 2-core machine, but CI runs them
    # beside two other test workers.
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_promtool_accepts_the_prometheus_config_and_its_rules():
    checked = run(tool("promtool"), "check", "config", str(MONITORING / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = run(tool("promtool"), "check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_every_alert_rule_has_a_unit_test_that_fires_it_and_all_pass():
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"] if "alert" in rule}
    assert len(RULE_TESTS) == 2
    fired = {case["alertname"] for path in RULE_TESTS
             for test in yaml.safe_load(path.read_text())["tests"]
             for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert alerts == {"TargetDown", "PageErrorRate", "ApiErrorRate", "PageSlowP95",
                      "DatabasePoolNearLimit",
                      "SchedulerNoLeader", "JobFailing", "JobLastSuccessTooOld",
                      "BackupTooOld"}
    assert alerts <= fired, sorted(alerts - fired)
    tested = run(tool("promtool"), "test", "rules", *map(str, RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_prometheus_container_finds_the_rules_where_the_config_names_them():
    service = compose()["services"]["prometheus"]
    mounts = dict(volume.rsplit(":", 2)[:2] if volume.count(":") == 2 else volume.split(":")
                  for volume in service["volumes"])
    assert mounts["./deploy/monitoring/rules"] == "/etc/prometheus/rules"
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules/isv.rules.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["app"]["dns_sd_configs"][0]["port"] == 8501
    api = compose()["services"]["api"]["command"]
    assert jobs["api"]["dns_sd_configs"][0] == {
        "names": ["api"], "type": "A", "port": int(api[api.index("--port") + 1]),
        "refresh_interval": "30s"}
    assert jobs["api"]["metrics_path"] == "/metrics"
    assert jobs["scheduler"]["static_configs"][0]["targets"] == [
        f"scheduler:{compose()['x-isv']['environment']['ISV_SCHEDULER_METRICS_PORT']}"]


def _entrypoint(tmp_path: Path, url: str | None) -> subprocess.CompletedProcess:
    """Compose's alertmanager entrypoint, run by sh, with amtool checking what it renders."""
    script = compose()["services"]["alertmanager"]["entrypoint"][2].replace("$$", "$")
    script = script.replace("/etc/alertmanager/isv.yml", str(MONITORING / "alertmanager.yml"))
    script = script.replace("/tmp/alertmanager.yml", str(tmp_path / "alertmanager.yml"))
    script = re.sub(r"exec /bin/alertmanager .*$", f"exec {tool('amtool')} check-config "
                    f"{tmp_path / 'alertmanager.yml'}", script)
    env = {"PATH": os.environ["PATH"]}
    if url is not None:
        env["ISV_ALERT_WEBHOOK_URL"] = url
    return run("sh", "-c", script, env=env)


def test_alertmanager_starts_with_the_webhook_url_from_env_exactly_and_not_without(tmp_path):
    url = "https://hooks.example.com/alerts?team=ops&key=a|b"
    rendered = _entrypoint(tmp_path, url)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    config = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    [receiver] = config["receivers"]
    assert receiver["webhook_configs"][0]["url"] == url
    refused = _entrypoint(tmp_path, None)
    assert refused.returncode == 1
    assert "set ISV_ALERT_WEBHOOK_URL in .env" in refused.stderr


def test_grafana_dashboards_use_the_provisioned_datasource_and_every_panel_has_a_query():
    [source] = yaml.safe_load((MONITORING / "grafana" / "provisioning" / "datasources" /
                               "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert {d.stem for d in DASHBOARDS} == {"service-health", "partner-kpis"}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["panels"], path.name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], (path.name, panel["title"])
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


def test_the_monitoring_uis_listen_on_loopback_only():
    services = compose()["services"]
    for name in ("prometheus", "alertmanager", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), name
