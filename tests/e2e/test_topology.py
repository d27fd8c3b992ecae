"""What `docker compose up` starts, started natively: the production topology, tested here.

No Docker engine runs on these machines, so this test starts the same pieces as
docker-compose.yml, with the same commands: PostgreSQL (a throwaway database), Redis (a
throwaway server, with compose's command and a password), `isv migrate`, two
`streamlit run` replicas, `python -m scheduler`, and Debian's nginx running the project's
own template (deploy/nginx/templates/isv.conf.template) in front.
Then a person signs in through nginx, edits a deal in the grid and sees it after a reload.

Without nginx, PostgreSQL, Redis or Chromium the test skips; in CI (CI=true) it fails.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis
import yaml
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from isv.cache import database_key
from isv.demo import DEMO_LOGINS
from isv.ui.labels import stage_label
from tests.conftest import _require_postgres
from tests.e2e.conftest import (
    COOKIE_KEY,
    COOKIE_NAME,
    IN_CI,
    ROOT,
    _free_port,
    _wait_healthy,
)
from tests.e2e.helpers import email_box, sign_out_button, submit_login, wait_for_cookie
from tests.e2e.test_pipeline import cell, edit_first_row, go_to, save

pytestmark = pytest.mark.e2e
NGINX = Path("/usr/sbin/nginx")
TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "isv.conf.template"
REDIS_SERVER = shutil.which("redis-server")
SLOW = 60_000  # ms
SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "strict-transport-security": "max-age=31536000",
}


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst does: replace the ${NAME}s that are set, only those."""
    rendered = re.sub(r"\$\{([A-Z_]+)\}", lambda m: values.get(m[1], m[0]), template)
    left = re.findall(r"\$\{[A-Z_]+\}", rendered)
    assert not left, f"the template needs values for {left}"
    return rendered


def wrapper(tmp: Path, site: Path) -> str:
    """nginx.conf around the site, as the image's own nginx.conf includes conf.d/*.conf.

    The access log names the replica that answered each request and the route cookie, so
    the test can see sticky sessions at work.
    """
    temp = {name: tmp / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {tmp / 'nginx.pid'};
error_log {tmp / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    log_format topology '$status $request_method $uri upstream=$upstream_addr '
                        'route=$cookie_isv_route';
    access_log {tmp / 'access.log'} topology;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {site};
}}
"""


def https(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def wait_for(what: str, check, timeout: float = 60, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"waited {timeout} s for {what}")


class Topology:
    """The processes of one native stack; each one stopped (and only those) at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.logs: list = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.tmp / f"{name}.log").open("w")
        self.logs.append(log)
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases, chromium_path):
    if not NGINX.exists():
        _missing(f"{NGINX} is missing: apt-get install nginx")
    if shutil.which("openssl") is None:
        _missing("openssl is missing: apt-get install openssl")
    if REDIS_SERVER is None:
        _missing("redis-server is missing: apt-get install redis-server")
    _require_postgres()

    tmp = tmp_path_factory.mktemp("topology")
    database_url = pg_databases.create()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app_command = compose["services"]["app"]["command"]
    scheduler_command = compose["services"]["scheduler"]["command"]
    assert scheduler_command[:1] == ["python"]

    topology = Topology(tmp)
    try:
        redis_url = _start_redis(topology, compose["services"]["redis"]["command"])
        env = {**os.environ, "ISV_ENV": "production", "ISV_DATABASE_URL": database_url,
               "ISV_REDIS_URL": redis_url, "ISV_COOKIE_NAME": COOKIE_NAME,
               "ISV_COOKIE_KEY": COOKIE_KEY, "ISV_BCRYPT_ROUNDS": "4", "LOG_FORMAT": "json",
               "LOG_LEVEL": "INFO"}
        isv = str(Path(sys.executable).with_name("isv"))
        for command in ([isv, "migrate"], [isv, "demo", "--opportunities", "60"]):
            subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True,
                           timeout=300)

        replicas = []
        for n in (1, 2):
            port = _free_port()
            command = [sys.executable, "-m", *app_command]
            # The compose command with this replica's port, on loopback only.
            command[command.index("--server.port") + 1] = str(port)
            command[command.index("--server.address") + 1] = "127.0.0.1"
            proc = topology.start(f"app{n}", command, env)
            replicas.append((port, proc))
        topology.start("scheduler", [sys.executable, *scheduler_command[1:]], env)

        cert, key = tmp / "fullchain.pem", tmp / "privkey.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        http_port, https_port = _free_port(), _free_port()
        site = tmp / "isv.conf"
        site.write_text(render(TEMPLATE.read_text(), {
            "ISV_UPSTREAM_SERVERS": " ".join(f"server 127.0.0.1:{port};"
                                             for port, _ in replicas),
            "ISV_SERVER_NAME": "_", "NGINX_HTTP_PORT": str(http_port),
            "NGINX_HTTPS_PORT": str(https_port), "ISV_PUBLIC_HTTPS_PORT": str(https_port),
            "NGINX_TLS_CERT": str(cert), "NGINX_TLS_KEY": str(key)}))
        conf = tmp / "nginx.conf"
        conf.write_text(wrapper(tmp, site))
        checked = subprocess.run([str(NGINX), "-t", "-c", str(conf), "-p", str(tmp)],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr

        for n, (port, proc) in enumerate(replicas, start=1):
            _wait_healthy(f"http://127.0.0.1:{port}", proc, tmp / f"app{n}.log", timeout=90)
        nginx = topology.start("nginx", [str(NGINX), "-c", str(conf), "-p", str(tmp),
                                         "-g", "daemon off;"], env)
        wait_for("nginx to answer", lambda: nginx.poll() is None and _answers(https_port),
                 timeout=30)
        yield {"database_url": database_url, "redis_url": redis_url, "tmp": tmp,
               "topology": topology, "http_port": http_port, "https_port": https_port,
               "base": f"https://127.0.0.1:{https_port}",
               "replicas": [f"127.0.0.1:{port}" for port, _ in replicas]}
    finally:
        topology.stop()


def _start_redis(topology: Topology, command: list[str]) -> str:
    """Redis with compose's own command (requirepass included) on a port of its own.

    A throwaway server, stopped with the stack: nothing to clean up in a shared one.
    """
    assert command[:2] == ["sh", "-c"]
    password, port = secrets.token_hex(16), _free_port()
    # What compose hands the shell: $$ is its escape for a literal $.
    script = command[2].replace("$$", "$") + f" --port {port} --bind 127.0.0.1"
    topology.start("redis", ["sh", "-c", script], {**os.environ, "REDIS_PASSWORD": password})
    url = f"redis://:{password}@127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.ConnectionError:
            return False

    wait_for("redis to answer", answers, timeout=30)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port).ping()  # no password, no entry
    return url


def _answers(port: int) -> bool:
    try:
        return https(port, "/_stcore/health").status == 200
    except OSError:
        return False


def data_version(redis_url: str, database_url: str) -> int:
    raw = redis.Redis.from_url(redis_url).get(
        f"isv:{database_key(make_url(database_url))}:data_version")
    return int(raw) if raw is not None else 0


def sql(database_url: str, statement: str):
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement)).all()
    finally:
        engine.dispose()


def access_log(tmp: Path) -> list[dict[str, str]]:
    entries = []
    for line in (tmp / "access.log").read_text().splitlines():
        status, method, uri, *fields = line.split(" ")
        entries.append({"status": status, "method": method, "uri": uri,
                        **dict(f.split("=", 1) for f in fields)})
    return entries


def test_every_response_through_nginx_carries_the_security_headers(stack):
    for path in ("/", "/_stcore/health", "/no-such-page"):
        response = https(stack["https_port"], path)
        headers = {k.lower(): v for k, v in response.getheaders()}
        for name, expected in SECURITY_HEADERS.items():
            assert expected in headers.get(name, ""), (path, name, headers.get(name))
        assert "server" not in headers or "nginx/" not in headers["server"]  # no version


def test_plain_http_is_redirected_to_https(stack):
    conn = http.client.HTTPConnection("127.0.0.1", stack["http_port"], timeout=10)
    conn.request("GET", "/some/page?x=1")
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == \
        f"https://127.0.0.1:{stack['https_port']}/some/page?x=1"
    conn.close()


def route_cookies(response: http.client.HTTPResponse) -> list[str]:
    return [c for c in response.headers.get_all("Set-Cookie") or []
            if c.startswith("isv_route=")]


def test_each_browser_stays_on_one_replica_and_browsers_spread_over_both(stack):
    routes = []
    for _ in range(12):
        first = https(stack["https_port"], "/_stcore/health")
        [cookie] = route_cookies(first)
        assert "Secure" in cookie and "HttpOnly" in cookie
        route = cookie.split(";")[0]
        routes.append(route.split("=", 1)[1])
        for _ in range(3):
            again = https(stack["https_port"], "/_stcore/health", cookie=route)
            assert route_cookies(again) == []  # the browser keeps its route
    served = defaultdict(set)
    for entry in access_log(stack["tmp"]):
        if entry["route"] in routes:
            served[entry["route"]].add(entry["upstream"])
    assert all(len(upstreams) == 1 for upstreams in served.values()), served
    assert set().union(*served.values()) == set(stack["replicas"])


def signed_in(context: BrowserContext, base: str, email: str, password: str):
    page = context.new_page()
    page.goto(base + "/")
    for _attempt in range(3):
        expect(email_box(page)).to_be_visible()
        submit_login(page, email, password)
        try:
            # A fresh replica can redraw the form as the button is pressed (see
            # tests/e2e/test_pipeline.py): then sign in again. Signed in, the page goes
            # through the cookie route and loads again, which takes a while here.
            expect(sign_out_button(page)).to_be_visible(timeout=2 * SLOW)
            break
        except AssertionError:
            if not email_box(page).is_visible():
                raise
    expect(sign_out_button(page)).to_be_visible()
    wait_for_cookie(context, COOKIE_NAME)
    return page


def test_a_grid_edit_saved_through_nginx_survives_a_reload(stack, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  ignore_https_errors=True)
    context.set_default_timeout(SLOW)
    expect.set_options(timeout=SLOW)
    blocked: list[str] = []
    try:
        email, password, _role, _name = next(
            login for login in DEMO_LOGINS if login[2] == "sales_manager")
        page = signed_in(context, stack["base"], email, password)
        page.on("console", lambda m: blocked.append(m.text)
                if "Content Security Policy" in m.text else None)
        go_to(page, "Opportunities")
        customer = cell(page, 0, "Customer")
        before = cell(page, 0, "Stage")
        target = "proposal" if before != "proposal" else "demo"
        version = data_version(stack["redis_url"], stack["database_url"])

        edit_first_row(page, "Stage", stage_label(target))
        save(page)
        expect(page.get_by_text("Saved: 1 changed.")).to_be_visible()
        # The replica's write told every other replica, through Redis, that data changed.
        assert data_version(stack["redis_url"], stack["database_url"]) > version

        page.reload()
        expect(page.get_by_role("heading", name="Opportunities", exact=True)).to_be_visible()
        assert (cell(page, 0, "Customer"), cell(page, 0, "Stage")) == (customer, target)
        page.screenshot(path=str(stack["tmp"] / "grid-through-nginx.png"))
    finally:
        expect.set_options(timeout=15_000)
        context.close()
    assert blocked == [], blocked  # the CSP lets Streamlit work
    # The page's live connection went through nginx's websocket location.
    upgrades = [e for e in access_log(stack["tmp"]) if e["uri"] == "/_stcore/stream"]
    assert upgrades and all(e["status"] == "101" for e in upgrades)


def test_the_boards_drag_and_drop_runs_under_the_production_csp(stack, browser):
    """Custom components v2 import their JS from a blob: URL; the CSP must allow it."""
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  ignore_https_errors=True)
    context.set_default_timeout(SLOW)
    expect.set_options(timeout=SLOW)
    blocked: list[str] = []
    try:
        email, password, _role, _name = next(
            login for login in DEMO_LOGINS if login[2] == "sales_manager")
        page = signed_in(context, stack["base"], email, password)
        page.on("console", lambda m: blocked.append(m.text)
                if "Content Security Policy" in m.text else None)
        go_to(page, "Pipeline board")
        expect(page.locator("[class*='st-key-card_']").first).to_have_attribute(
            "data-isv-drag", "ready")
    finally:
        expect.set_options(timeout=15_000)
        context.close()
    assert blocked == [], blocked


def test_the_scheduler_ran_its_jobs_against_postgresql(stack):
    rows = wait_for("a finished alerts run", lambda: sql(
        stack["database_url"],
        "SELECT job_name, outcome, instance_id FROM job_runs WHERE outcome = 'ok'"))
    assert "alerts" in {job for job, _outcome, _instance in rows}
    log_lines = [json.loads(line) for line in stack["topology"].log("scheduler").splitlines()
                 if line.startswith("{")]
    finished = [e for e in log_lines if e.get("job") == "alerts" and e.get("outcome") == "ok"]
    assert finished, stack["topology"].log("scheduler")
    assert Counter(e["level"] for e in log_lines)["ERROR"] == 0


def test_the_compose_file_is_valid_where_docker_compose_runs(tmp_path):
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"],
                                        capture_output=True).returncode != 0:
        pytest.skip("no docker compose plugin here: the file is validated where it exists")
    env_file = tmp_path / ".env"
    env_file.write_text((ROOT / ".env.example").read_text().replace(
        "POSTGRES_PASSWORD=", "POSTGRES_PASSWORD=compose-config-check"))
    result = subprocess.run([docker, "compose", "--env-file", str(env_file), "-f",
                             str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

