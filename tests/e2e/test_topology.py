"""What `docker compose up` starts, started natively: the production topology, tested here.

No Docker engine runs on these machines, so this test starts the same pieces as
docker-compose.yml, with the same commands: PostgreSQL (a throwaway copy of a database with
the demo loaded), Redis (a throwaway server, with compose's command and a password),
`isv migrate`, two `streamlit run` replicas, `python -m scheduler`, `isv api`, and Debian's
nginx running the project's own template (deploy/nginx/templates/isv.conf.template) in front.
Then a person signs in through nginx, edits a deal in the grid and sees it after a reload,
and a script signs in to the REST API through the same nginx.

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
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis
import yaml
from playwright.sync_api import BrowserContext, expect
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from isv import devserver
from isv.cache import database_key
from isv.demo import DEMO_LOGINS
from isv.ui.labels import stage_label
from tests.conftest import _require_postgres
from tests.e2e.conftest import COOKIE_KEY, COOKIE_NAME, IN_CI, PATIENCE_MS, ROOT
from tests.e2e.helpers import email_box, sign_out_button, submit_login, wait_for_cookie
from tests.e2e.test_pipeline import cell, edit_first_row, save

pytestmark = pytest.mark.e2e
NGINX = Path("/usr/sbin/nginx")
TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "isv.conf.template"
REDIS_SERVER = shutil.which("redis-server")
SLOW = 60_000  # ms
API_RATE = 20   # calls a minute per client address, for the native API
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

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        proc = devserver.start(command, env=env, log=self.tmp / f"{name}.log")
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def stop(self) -> None:
        devserver.stop_all([proc for _name, proc in self.procs])


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory, pg_databases, chromium_path):
    if not NGINX.exists():
        _missing(f"{NGINX} is missing: apt-get install nginx")
    if shutil.which("openssl") is None:
        _missing("openssl is missing: apt-get install openssl")
    if REDIS_SERVER is None:
        _missing("redis-server is missing: apt-get install redis-server")
    _require_postgres()

    tmp = tmp_path_factory.mktemp("topology")
    # A copy of a database `isv migrate` and `isv demo --opportunities 60` have filled.
    database_url = pg_databases.create(template=request.getfixturevalue("pg_demo_template"))
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app_command = compose["services"]["app"]["command"]
    scheduler_command = compose["services"]["scheduler"]["command"]
    assert scheduler_command[:1] == ["python"]

    topology = Topology(tmp)
    try:
        redis_url = _start_redis(topology, compose["services"]["redis"]["command"])
        env = {**os.environ, "ISV_ENV": "production", "ISV_DATABASE_URL": database_url,
               "ISV_API_KEY": secrets.token_hex(32),
               "ISV_REDIS_URL": redis_url, "ISV_COOKIE_NAME": COOKIE_NAME,
               "ISV_COOKIE_KEY": COOKIE_KEY, "ISV_BCRYPT_ROUNDS": "4", "LOG_FORMAT": "json",
               "LOG_LEVEL": "INFO", "ISV_BACKUP_DIR": str(tmp / "backups")}
        isv = str(Path(sys.executable).with_name("isv"))
        # compose's one-off migrate service, before the app starts: here a no-op at head.
        subprocess.run([isv, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=300)

        replicas = []
        for n in (1, 2):
            port = devserver.free_port()
            command = [sys.executable, "-m", *app_command]
            # The compose command with this replica's port, on loopback only.
            command[command.index("--server.port") + 1] = str(port)
            command[command.index("--server.address") + 1] = "127.0.0.1"
            proc = topology.start(f"app{n}", command, env)
            replicas.append((port, proc))
        topology.start("scheduler", [sys.executable, *scheduler_command[1:]], env)

        # The API with compose's command, on loopback. nginx reaches it from 127.0.0.1 here
        # (from Docker's private networks in compose): the proxy it believes.
        api_port = devserver.free_port()
        command = [isv, *compose["services"]["api"]["command"][1:]]
        command[command.index("--port") + 1] = str(api_port)
        command[command.index("--host") + 1] = "127.0.0.1"
        api = topology.start("api", command, {**env, "ISV_API_TRUSTED_PROXIES": "127.0.0.1",
                                              "ISV_API_RATE_PER_MINUTE": str(API_RATE)})

        cert, key = tmp / "fullchain.pem", tmp / "privkey.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        http_port, https_port = devserver.free_port(), devserver.free_port()
        site = tmp / "isv.conf"
        site.write_text(render(TEMPLATE.read_text(), {
            "ISV_UPSTREAM_SERVERS": " ".join(f"server 127.0.0.1:{port};"
                                             for port, _ in replicas),
            "ISV_API_SERVERS": f"server 127.0.0.1:{api_port};",
            "ISV_SERVER_NAME": "_", "NGINX_HTTP_PORT": str(http_port),
            "NGINX_HTTPS_PORT": str(https_port), "ISV_PUBLIC_HTTPS_PORT": str(https_port),
            "NGINX_TLS_CERT": str(cert), "NGINX_TLS_KEY": str(key)}))
        conf = tmp / "nginx.conf"
        conf.write_text(wrapper(tmp, site))
        checked = subprocess.run([str(NGINX), "-t", "-c", str(conf), "-p", str(tmp)],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr

        for n, (port, proc) in enumerate(replicas, start=1):
            devserver.wait_healthy(proc, f"http://127.0.0.1:{port}/_stcore/health",
                                   tmp / f"app{n}.log", timeout=90)
        devserver.wait_healthy(api, f"http://127.0.0.1:{api_port}/api/v1/health",
                               tmp / "api.log", timeout=60)
        nginx = topology.start("nginx", [str(NGINX), "-c", str(conf), "-p", str(tmp),
                                         "-g", "daemon off;"], env)
        wait_for("nginx to answer", lambda: nginx.poll() is None and _answers(https_port),
                 timeout=30)
        yield {"database_url": database_url, "redis_url": redis_url, "tmp": tmp,
               "topology": topology, "http_port": http_port, "https_port": https_port,
               "base": f"https://127.0.0.1:{https_port}",
               "replicas": [f"127.0.0.1:{port}" for port, _ in replicas],
               "api": f"127.0.0.1:{api_port}"}
    finally:
        topology.stop()


def _start_redis(topology: Topology, command: list[str]) -> str:
    """Redis with compose's own command (requirepass included) on a port of its own.

    A throwaway server, stopped with the stack: nothing to clean up in a shared one.
    """
    assert command[:2] == ["sh", "-c"]
    password, port = secrets.token_hex(16), devserver.free_port()
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


def signed_in(context: BrowserContext, base: str, email: str, password: str, path: str = "/"):
    """Signed in through the form at `path`, as a person opening a link signed out does."""
    page = context.new_page()
    page.goto(base + path)
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


def test_the_sign_in_cookie_through_nginx_is_secure_http_only_and_strict(stack, browser):
    """Set by the app's route behind TLS (issue 18 #9), with nothing the CSP blocks."""
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  ignore_https_errors=True)
    context.set_default_timeout(SLOW)
    expect.set_options(timeout=SLOW)
    blocked: list[str] = []
    context.on("console", lambda m: blocked.append(m.text)
               if "Content Security Policy" in m.text else None)
    try:
        email, password, _role, _name = next(
            login for login in DEMO_LOGINS if login[2] == "vp")
        page = signed_in(context, stack["base"], email, password)
        [cookie] = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == \
            (True, True, "Strict", "/")
        assert COOKIE_NAME not in page.evaluate("document.cookie")
        # Both replicas accept it: one route cookie that nginx sends to each replica.
        candidates = [f"cookie-check-{n}" for n in range(16)]
        for route in candidates:
            https(stack["https_port"], "/_stcore/health", cookie=f"isv_route={route}")
        upstream = {e["route"]: e["upstream"] for e in access_log(stack["tmp"])
                    if e["route"] in candidates}
        routes = {replica: route for route, replica in upstream.items()}
        assert set(routes) == set(stack["replicas"]), upstream
        for route in routes.values():
            other = browser.new_context(ignore_https_errors=True)
            other.set_default_timeout(SLOW)
            try:
                other.add_cookies([cookie, {"name": "isv_route", "value": route,
                                            "url": stack["base"]}])
                again = other.new_page()
                # A light page: the dashboard was drawn under the CSP above.
                again.goto(stack["base"] + "/account")
                expect(sign_out_button(again)).to_be_visible()
            finally:
                other.close()
    finally:
        expect.set_options(timeout=PATIENCE_MS)
        context.close()
    assert blocked == [], blocked


def test_a_grid_edit_saved_through_nginx_survives_a_reload(stack, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  ignore_https_errors=True)
    context.set_default_timeout(SLOW)
    expect.set_options(timeout=SLOW)
    blocked: list[str] = []
    try:
        email, password, _role, _name = next(
            login for login in DEMO_LOGINS if login[2] == "sales_manager")
        # Every page of the context from its first load, the sign-in form included.
        context.on("console", lambda m: blocked.append(m.text)
                   if "Content Security Policy" in m.text else None)
        page = signed_in(context, stack["base"], email, password, "/opportunities")
        expect(page.get_by_role("heading", name="Opportunities", exact=True)).to_be_visible()
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
        expect.set_options(timeout=PATIENCE_MS)
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
        # Every page of the context from its first load, the sign-in form included.
        context.on("console", lambda m: blocked.append(m.text)
                   if "Content Security Policy" in m.text else None)
        page = signed_in(context, stack["base"], email, password, "/board")
        expect(page.get_by_role("heading", name="Pipeline board", exact=True)).to_be_visible()
        expect(page.locator("[class*='st-key-card_']").first).to_have_attribute(
            "data-isv-drag", "ready")
    finally:
        expect.set_options(timeout=PATIENCE_MS)
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
    # The passwords compose requires (`${VAR:?…}`) are left blank in the example on purpose.
    example = (ROOT / ".env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        example = example.replace(f"\n{name}=\n", f"\n{name}=compose-config-check\n")
    env_file.write_text(example)
    result = subprocess.run([docker, "compose", "--env-file", str(env_file), "-f",
                             str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr



def test_nginx_keeps_each_replicas_metrics_to_the_internal_network(stack):
    assert https(stack["https_port"], "/metrics").status == 404
    for replica in stack["replicas"]:
        with urllib.request.urlopen(f"http://{replica}/metrics", timeout=10) as response:
            assert response.status == 200
            assert b"isv_page_run_seconds" in response.read()


# --- the REST API through nginx ------------------------------------------------------------

def api_call(port: int, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None,
             source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """One HTTPS request to nginx from `source` (any 127.x address: a client of its own)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20,
                                       source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read())
    finally:
        conn.close()


def test_the_api_answers_through_nginx_with_its_envelope_and_the_security_headers(stack):
    status, headers, body = api_call(stack["https_port"], "GET", "/api/v1/health")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["success"] is True and set(answer["meta"]) >= {"timestamp", "version"}
    assert answer["data"]["database"]["status"] == "ok"
    assert answer["data"]["redis"]["status"] == "ok"   # the password-protected Redis
    assert answer["data"]["schema_at_head"] is True
    for name, expected in SECURITY_HEADERS.items():
        assert expected in headers.get(name, ""), (name, headers.get(name))
    assert "server" not in headers or "nginx/" not in headers["server"]
    assert "isv_route=" not in headers.get("set-cookie", "")   # no sticky route for the API


def test_a_script_signs_in_to_the_api_through_nginx_and_reads_who_it_is(stack):
    email, password, role, _name = next(
        login for login in DEMO_LOGINS if login[2] == "sales_manager")
    status, headers, body = api_call(
        stack["https_port"], "POST", "/api/v1/auth/login",
        json.dumps({"email": email, "password": password}).encode(),
        {"Content-Type": "application/json"})
    assert status == 200, body
    assert headers["cache-control"] == "no-store"   # tokens are kept by no cache
    assert "strict-transport-security" in headers
    token = json.loads(body)["data"]["access_token"]
    status, _headers, body = api_call(stack["https_port"], "GET", "/api/v1/auth/me",
                                      headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    me = json.loads(body)["data"]
    assert (me["email"], me["role"]) == (email, role)


def test_the_apis_metrics_stay_on_the_internal_network(stack):
    for path in ("/metrics", "/api/v1/metrics", "/api/metrics", "/api/../metrics",
                 "/api/%2e%2e/metrics"):
        status, _headers, body = api_call(stack["https_port"], "GET", path)
        assert status == 404, path
        assert b"isv_api_request_seconds" not in body, path
    with urllib.request.urlopen(f"http://{stack['api']}/metrics", timeout=10) as response:
        families = text_string_to_metric_families(response.read().decode())
        routes = {sample.labels["route"] for family in families for sample in family.samples
                  if sample.name == "isv_api_request_seconds_count"}
    assert "/api/v1/health" in routes   # the API's own port answers Prometheus


def test_an_api_body_over_its_limit_gets_the_apis_own_answer_and_a_huge_one_nginxs(stack):
    over_api = b"x" * (1_048_576 + 10)      # over ISV_API_MAX_BODY_BYTES, under nginx's 2m
    status, _headers, body = api_call(stack["https_port"], "POST", "/api/v1/auth/login",
                                      over_api, {"Content-Type": "application/json"})
    assert status == 413
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    status, headers, _body = api_call(stack["https_port"], "POST", "/api/v1/auth/login",
                                      b"x" * (3 * 1_048_576),
                                      {"Content-Type": "application/json"})
    assert status == 413
    assert "x-content-type-options" in headers


def test_the_api_limits_each_client_nginx_forwards_and_ignores_forged_addresses(stack):
    """Two clients behind nginx: one used up its minute, the other still gets answers."""
    statuses = []
    for n in range(2 * API_RATE + 1):
        # A forged X-Forwarded-For each time: nginx replaces it with the address it saw.
        status, headers, _body = api_call(stack["https_port"], "GET", "/api/v1/auth/me",
                                          headers={"X-Forwarded-For": f"198.51.100.{n}"},
                                          source="127.0.0.3")
        statuses.append(status)
        if status == 429:
            assert int(headers["retry-after"]) >= 1
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
    status, _headers, _body = api_call(stack["https_port"], "GET", "/api/v1/auth/me",
                                       source="127.0.0.4")
    assert status == 401
