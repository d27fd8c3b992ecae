"""Load: N people at once, each in a browser context of one Chromium, walking the same route.

    python -m bench load [--sessions 1,5,10,20] [--topology one|replicas] [--rounds 2]
                         [--backend postgresql|sqlite] [--opportunities N] [--database URL]
                         [--settle 60] [--arrive S] [--think S] [--nice K]

The server is started as bench/ui.py starts it (`streamlit run serve.py`, what `isv run` and
`make run` serve: one process) or, with --topology replicas, as docker-compose.yml runs it:
two `streamlit run` replicas behind Debian's nginx with the project's own template (sticky
sessions, TLS, websockets) and a Redis of its own with a password as the shared cache,
started natively as tests/e2e/test_topology.py starts them.

Each session signs in as a user of its own: a partnership manager `load-NN@example.com`
created here (through the services, as `isv user add` does) and made the owner of one demo
partner of its own, so that no two sessions save the same deal. The route, timed per click
as bench/ui.py times it (from the request the browser sends until Streamlit's
script_finished has arrived on the page's WebSocket and the page is drawn):

    sign-in → dashboard, pipeline analytics, opportunities, a grid save (one Value),
    pipeline board, weekly status, partner analytics

By default all N sessions start together and click back to back (the stress case); with
--arrive the sign-ins are spread over that many seconds and with --think each click waits
the time a person reads the page first (0.5-1.5x the given mean). --nice runs the browsers
at that niceness: they stand for N people's own computers, and on one 2-core machine they
would otherwise take most of the CPU from the server they measure. The route's clicks and
the sign-ins are reported apart, and each step on its own line. Errors counted: exception
boxes on a page, steps that time out, WebSockets the server dropped. The server's CPU (user +
system of its processes, from /proc), the whole machine's busy CPU (/proc/stat: the rest is
the browsers and the database) and the server's resident memory are sampled every half
second: before, peak, and after all sessions closed and --settle seconds passed; with
--rounds 2 the same N walk again on the same server, so a leak shows as memory that does
not come back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.ui import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COOKIE,
    DASHBOARD_READY,
    ROOT,
    TIMEOUT_MS,
    app_server,
    cpu_seconds,
    demo_database,
    percentile,
)
from bench.ui import Runs as UiRuns
from bench.wire import WireSession
from isv import devserver
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.models import Partner, User
from isv.services import partners, users

PASSWORD = "load-bench-password-2026"
ROUTE = ("Pipeline analytics", "Opportunities", "grid save", "Pipeline board", "Weekly status",
         "Partner analytics")
SYSTEM = Viewer.system("bench.load")
SAMPLE_SECONDS = 0.5


# --- the people ----------------------------------------------------------------------------

def load_users(url: str, count: int) -> list[str]:
    """`count` partnership managers who can sign in, the n-th owning the n-th partner (by
    name, partners without an owner first); created on first use, password reset after."""
    emails = [f"load-{n:02d}@example.com" for n in range(1, count + 1)]
    with session_scope(url) as session:
        ours = {u.id for u in session.scalars(select(User).where(User.email.in_(emails)))}
        found = session.scalars(select(Partner).order_by(Partner.name)).all()
        spare = sorted(found, key=lambda p: p.owner_id is not None and p.owner_id not in ours)
        if len(spare) < count:
            raise SystemExit(f"{count} sessions need {count} partners; the database has "
                             f"{len(spare)}")
        for n, email in enumerate(emails):
            user = session.scalar(select(User).where(User.email == email))
            if user is None:
                user = users.create_user(session=session, viewer=SYSTEM, email=email,
                                         first_name="Load", last_name=f"Tester {n + 1:02d}",
                                         role="partnership_manager", password=PASSWORD)
                session.flush()
            else:
                users.set_password(session=session, viewer=SYSTEM, user_id=user.id,
                                   password=PASSWORD)
            if spare[n].owner_id != user.id:
                partners.update_partner(session=session, viewer=SYSTEM,
                                        partner_id=spare[n].id, owner_id=user.id)
        session.commit()
    get_engine(url).dispose()
    return emails


# --- the servers -----------------------------------------------------------------------------

@dataclass
class Server:
    base: str
    pids: list[int]
    cookie: str  # the name of the app's session cookie


@contextmanager
def one_process(url: str) -> Iterator[Server]:
    with app_server(url) as (base, pid):
        yield Server(base, [pid], COOKIE)


@contextmanager
def replicas(url: str) -> Iterator[Server]:
    """Two replicas behind nginx, as docker-compose.yml runs them (see test_topology.py)."""
    import yaml

    from tests.e2e.test_topology import NGINX, TEMPLATE, Topology, render, wrapper

    if not NGINX.exists() or not shutil.which("openssl") or not shutil.which("redis-server"):
        raise SystemExit(f"the replicated topology needs {NGINX}, openssl and redis-server")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app_command = compose["services"]["app"]["command"]
    tmp = Path(tempfile.mkdtemp(prefix="isv-bench-load-"))
    topology = Topology(tmp)
    try:
        redis_url = _start_redis(topology, compose["services"]["redis"]["command"])
        env = {**os.environ, "ISV_ENV": "production", "ISV_DATABASE_URL": url,
               "ISV_REDIS_URL": redis_url, "ISV_COOKIE_NAME": "isv_bench_load",
               "ISV_COOKIE_KEY": secrets.token_hex(32), "LOG_LEVEL": "WARNING"}
        ports, procs = [], []
        for n in (1, 2):
            port = devserver.free_port()
            command = [sys.executable, "-m", *app_command]
            command[command.index("--server.port") + 1] = str(port)
            command[command.index("--server.address") + 1] = "127.0.0.1"
            procs.append(topology.start(f"app{n}", command, env))
            ports.append(port)
        cert, key = tmp / "fullchain.pem", tmp / "privkey.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        http_port, https_port = devserver.free_port(), devserver.free_port()
        site = tmp / "isv.conf"
        site.write_text(render(TEMPLATE.read_text(), {
            "ISV_UPSTREAM_SERVERS": " ".join(f"server 127.0.0.1:{p};" for p in ports),
            # The route walks no REST API call: its upstream is a port nothing listens on.
            "ISV_API_SERVERS": f"server 127.0.0.1:{devserver.free_port()};",
            "ISV_SERVER_NAME": "_", "NGINX_HTTP_PORT": str(http_port),
            "NGINX_HTTPS_PORT": str(https_port), "ISV_PUBLIC_HTTPS_PORT": str(https_port),
            "NGINX_TLS_CERT": str(cert), "NGINX_TLS_KEY": str(key)}))
        conf = tmp / "nginx.conf"
        conf.write_text(wrapper(tmp, site))
        for n, (port, proc) in enumerate(zip(ports, procs, strict=True), start=1):
            devserver.wait_healthy(proc, f"http://127.0.0.1:{port}/_stcore/health",
                                   tmp / f"app{n}.log", timeout=90)
        topology.start("nginx", [str(NGINX), "-c", str(conf), "-p", str(tmp),
                                 "-g", "daemon off;"], env)
        _wait_health(f"https://127.0.0.1:{https_port}")
        pids = [proc.pid for name, proc in topology.procs if name.startswith("app")]
        yield Server(f"https://127.0.0.1:{https_port}", pids, env["ISV_COOKIE_NAME"])
    finally:
        topology.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _start_redis(topology, command: list[str]) -> str:
    """Redis with compose's own command and a password (production refuses one without), on
    a port of its own: a throwaway server, stopped with the stack."""
    import redis

    password, port = secrets.token_hex(16), devserver.free_port()
    script = command[2].replace("$$", "$") + f" --port {port} --bind 127.0.0.1"
    topology.start("redis", ["sh", "-c", script], {**os.environ, "REDIS_PASSWORD": password})
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            if redis.Redis.from_url(url, socket_connect_timeout=1).ping():
                return url
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.3)


def _wait_health(base: str, timeout: float = 90) -> None:
    import ssl
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2,
                                        context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} did not answer within {timeout:.0f} s")
        time.sleep(0.5)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Meter:
    """The server processes' CPU and resident memory, sampled in the background."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = 0

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    @staticmethod
    def machine_cpu() -> float:
        """Busy CPU seconds of the whole machine so far (/proc/stat): with the server's own,
        it tells how much of the two cores the browsers and the database took."""
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    def rss(self) -> int:
        return sum(rss_bytes(pid) for pid in self.pids)

    async def sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.peak = max(self.peak, self.rss())
            try:
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
            except TimeoutError:
                pass


# --- one person's walk -----------------------------------------------------------------------

class Runs(UiRuns):
    """bench/ui.py's readiness, for the async API: it also wakes a waiting step when a run
    finishes and counts WebSockets the server dropped."""

    def __init__(self, page) -> None:
        self.dropped = 0
        self.closing = False
        self.changed = asyncio.Event()
        super().__init__(page)

    def _socket(self, ws) -> None:
        super()._socket(ws)
        if ws.url.endswith("/_stcore/stream"):
            ws.on("close", self._closed)

    def _closed(self, _ws) -> None:
        if not self.closing:
            self.dropped += 1

    def _frame(self, payload) -> None:
        before = self.finished
        super()._frame(payload)
        if self.finished != before:
            self.changed.set()


async def timed(runs: Runs, action: Callable[[], Awaitable[None]],
                ready: Callable[[], Awaitable[None]]) -> float:
    """Milliseconds from the request the action sent until a run finished and `ready` holds
    (bench/ui.py's `timed`)."""
    before, asked = runs.finished, len(runs.asked)
    started = time.perf_counter()
    await action()
    deadline = started + TIMEOUT_MS / 1000
    while runs.finished <= before:
        runs.changed.clear()
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("no script run finished")
        try:
            await asyncio.wait_for(runs.changed.wait(), min(left, 1.0))
        except TimeoutError:
            pass
    await ready()
    if len(runs.asked) > asked:
        started = runs.asked[asked]
    return (time.perf_counter() - started) * 1000


@dataclass
class Outcome:
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    exceptions: int = 0
    timeouts: int = 0
    dropped: int = 0
    failures: list[str] = field(default_factory=list)


async def _edit_first_value(page, value: str) -> None:
    """bench/ui.py's `_edit_first_value`: type a new Value into the grid's first row."""
    table = page.get_by_test_id("stDataFrame").first.locator("table")
    await table.locator("thead th").first.wait_for(state="attached", timeout=TIMEOUT_MS)
    names = [h.strip() for h in await table.locator("thead th").all_text_contents()]
    box = await page.get_by_test_id("stDataFrame").first.bounding_box()
    await page.mouse.click(box["x"] + 130, box["y"] + 35 + 17)
    await page.wait_for_timeout(300)
    for _ in range(names.index("Value") - names.index("Customer")):
        await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Enter")
    await page.wait_for_timeout(300)
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.type(value, delay=50)
    await page.wait_for_timeout(500)
    await page.keyboard.press("Enter")


SAVABLE = ("() => [...document.querySelectorAll('button')].some(b => "
           "b.innerText.includes('Save changes') && !b.disabled)")


async def _edit_until_savable(page, number: int, attempts: int = 3) -> None:
    """Edit the first row's Value until "Save changes" is enabled: on a busy server the grid
    can still be mounting when the heading shows, and the first click then lands nowhere."""
    for attempt in range(attempts):
        value = str(100_000 + number * 1_000 + int(time.time()) % 1_000 + attempt)
        await _edit_first_value(page, value)
        try:
            await page.wait_for_function(SAVABLE, timeout=15_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await page.keyboard.press("Escape")


@dataclass(frozen=True)
class Pace:
    """How people click: `arrive` spreads the sign-ins evenly over that many seconds, `think`
    is the mean time a person reads a page before the next click (drawn from 0.5–1.5× of it).
    Both 0: everyone signs in at once and clicks back to back (the stress case)."""

    arrive: float = 0.0
    think: float = 0.0

    def start(self, number: int, sessions: int) -> float:
        return self.arrive * number / sessions

    def read(self, rng: random.Random) -> float:
        return self.think * rng.uniform(0.5, 1.5)


async def _fill_login(page, base: str, email: str) -> None:
    """The sign-in form opened and filled in for `email`, not yet submitted."""
    await page.goto(base)
    await page.get_by_role("textbox", name="Email").fill(email)
    await page.get_by_role("textbox", name="Password").fill(PASSWORD)


async def walk(browser, base: str, email: str, number: int, outcome: Outcome,
               pace: Pace, sessions: int) -> None:
    """Sign in as `email` and walk the route once, adding each click's time to `outcome`."""
    rng = random.Random(number)
    await asyncio.sleep(pace.start(number, sessions))
    context = await browser.new_context(viewport={"width": 1400, "height": 900},
                                        ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    runs = Runs(page)
    step = "sign-in"
    try:
        await _fill_login(page, base, email)
        outcome.samples["sign-in"].append(await timed(
            runs, lambda: page.get_by_role("button", name="Sign in").click(),
            lambda: page.wait_for_function(DASHBOARD_READY, polling="raf", timeout=TIMEOUT_MS)))
        for step in ROUTE:
            await asyncio.sleep(pace.read(rng))
            if step == "grid save":
                await _edit_until_savable(page, number)
                save = page.get_by_role("button", name="Save changes")
                saved = page.get_by_text("Saved: 1 changed.")
                outcome.samples["grid save"].append(await timed(
                    runs, save.click,
                    lambda s=saved: s.first.wait_for(state="visible", timeout=TIMEOUT_MS)))
                continue
            link = page.get_by_test_id("stSidebarNavLink").filter(
                has_text=re.compile(f"{step}$"))
            heading = page.get_by_role("heading", name=step, exact=True)
            outcome.samples[step].append(await timed(
                runs, link.click,
                lambda h=heading: h.first.wait_for(state="visible", timeout=TIMEOUT_MS)))
            outcome.exceptions += await page.get_by_test_id("stException").count()
    except Exception as exc:  # Playwright's timeouts, ours, and anything else
        if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
            outcome.timeouts += 1
        shot = Path(tempfile.gettempdir()) / f"bench-load-{number + 1:02d}-{step}.png"
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(shot), full_page=True)
        outcome.failures.append(f"{email} {step}: {type(exc).__name__}: "
                                f"{str(exc).splitlines()[0]} (screenshot {shot})")
    finally:
        outcome.dropped += runs.dropped
        runs.closing = True
        await context.close()


async def wire_cookies(browser, server: Server, emails: list[str]
                       ) -> dict[str, dict[str, str]]:
    """Sign each wire session's person in with the browser, one after another before the
    round, and keep the cookies the sign-in set (the wire session then sends them)."""
    cookies = {}
    for email in emails:
        context = await browser.new_context(ignore_https_errors=True)
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        try:
            await _fill_login(page, server.base, email)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_function(DASHBOARD_READY, polling=100, timeout=TIMEOUT_MS)
            # The page fetches the cookie route on its own, maybe after the dashboard shows.
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while not any(c["name"] == server.cookie for c in await context.cookies()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{email}: the sign-in set no session cookie")
                await asyncio.sleep(0.1)
            cookies[email] = {c["name"]: c["value"] for c in await context.cookies()}
        finally:
            await context.close()
    return cookies


async def walk_wire(base: str, cookies: dict[str, str], email: str, number: int,
                    outcome: Outcome, pace: Pace, sessions: int) -> None:
    """The route over the protocol (bench/wire.py), signed in already: the first run is the
    dashboard a sign-in lands on; each step is timed until the server finished its run."""
    rng = random.Random(number)
    await asyncio.sleep(pace.start(number, sessions))
    session = WireSession(base, cookies)
    step = "dashboard"
    try:
        await session.connect(ssl=_NO_VERIFY if base.startswith("https") else None)
        outcome.samples[f"{WIRE}dashboard"].append(await session.rerun())
        if not set(ROUTE) - {"grid save"} <= set(session.pages):
            raise RuntimeError(f"not signed in: the first run showed {session.run.text[:6]}")
        for step in ROUTE:
            await asyncio.sleep(pace.read(rng))
            if step == "grid save":
                value = 100_000 + number * 1_000 + int(time.time()) % 1_000
                edit = session.editor_state({0: {"Value": value}})
                await session.rerun(widgets=[edit])
                outcome.samples[f"{WIRE}grid save"].append(
                    await session.rerun(widgets=[edit, session.trigger("grid_save")]))
                if not any("Saved" in text for text in session.run.text):
                    said = [text for text in session.run.text
                            if any(w in text.lower() for w in ("saved", "problem", "changed"))]
                    outcome.failures.append(f"{email} (wire) grid save: no \"Saved\" line; "
                                            f"the run showed {said[:3]}")
                continue
            outcome.samples[f"{WIRE}{step}"].append(await session.rerun(step))
    except Exception as exc:
        if isinstance(exc, TimeoutError):
            outcome.timeouts += 1
        outcome.failures.append(f"{email} (wire) {step}: {type(exc).__name__}: {exc}")
    finally:
        outcome.exceptions += session.exceptions
        outcome.dropped += session.dropped
        await session.close()


# The replicas' nginx serves a self-signed certificate made for the run.
_NO_VERIFY = ssl.create_default_context()
_NO_VERIFY.check_hostname, _NO_VERIFY.verify_mode = False, ssl.CERT_NONE
WIRE = "wire: "


# --- rounds ----------------------------------------------------------------------------------

@dataclass
class Round:
    sessions: int
    browsers: int
    outcome: Outcome
    wall: float
    cpu: float
    machine_cpu: float
    rss_before: int
    rss_peak: int
    rss_after: int


@contextmanager
def browser_executable(nice: int) -> Iterator[str]:
    """Debian's Chromium, or with `nice` > 0 the same run at that niceness: the N browsers
    stand for N people's own computers, and unniced they would take most of this machine's
    two cores from the server they measure."""
    if nice <= 0:
        yield CHROMIUM
        return
    with tempfile.TemporaryDirectory(prefix="isv-bench-chromium-") as tmp:
        wrapper = Path(tmp) / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec nice -n {nice} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        yield str(wrapper)


async def one_round(server: Server, emails: list[str], settle: float, pace: Pace,
                    executable: str, browsers: int) -> Round:
    from playwright.async_api import async_playwright

    meter = Meter(server.pids)
    outcome = Outcome()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            cookies = await wire_cookies(browser, server, emails[browsers:])
            rss_before, cpu_before = meter.rss(), meter.cpu()
            machine_before = meter.machine_cpu()
            meter.peak = rss_before
            stop = asyncio.Event()
            sampler = asyncio.create_task(meter.sample(stop))
            started = time.perf_counter()
            await asyncio.gather(*(
                walk(browser, server.base, email, n, outcome, pace, len(emails)) if n < browsers
                else walk_wire(server.base, cookies[email], email, n, outcome, pace, len(emails))
                for n, email in enumerate(emails)))
            wall = time.perf_counter() - started
            cpu = meter.cpu() - cpu_before
            machine = meter.machine_cpu() - machine_before
        finally:
            await browser.close()
    await asyncio.sleep(settle)
    stop.set()
    await sampler
    return Round(len(emails), min(browsers, len(emails)), outcome, wall, cpu, machine,
                 rss_before, meter.peak, meter.rss())


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>8} {'-':>8}"
    return f"{statistics.median(values):>8,.0f} {percentile(values, 95):>8,.0f}"


def report(label: str, rounds: list[Round]) -> None:
    load = os.getloadavg()
    print(f"\n{label}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on "
          f"{os.cpu_count()} cores (at the end)")
    print("  browser clicks: page-ready of the route's clicks after the sign-in (a sign-in loads "
          "the whole app anew in a new browser context, reported apart); wire runs: the wire "
          "sessions' steps, request to the server's script_finished")
    print(f"  {'N':>3} {'B':>3} {'round':>5} {'clicks':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8} {'sign-in p95':>11} {'runs':>5} {'wire p50':>8} {'wire p95':>8} "
          f"{'errors':>6} {'wall s':>6} {'CPU s':>6} {'all CPU s':>9} "
          f"{'RSS MB before/peak/after':>25} {'growth MB/session':>18}")
    for number, r in enumerate(rounds, start=1):
        samples = r.outcome.samples
        clicks = [v for kind, values in samples.items()
                  if kind != "sign-in" and not kind.startswith(WIRE) for v in values]
        wire = [v for kind, values in samples.items() if kind.startswith(WIRE) for v in values]
        signin = samples.get("sign-in", [])
        errors = r.outcome.exceptions + r.outcome.dropped + len(r.outcome.failures)
        mb = 1024 * 1024
        print(f"  {r.sessions:>3} {r.browsers:>3} {number:>5} {len(clicks):>6} {_stats(clicks)} "
              f"{max(clicks) if clicks else math.nan:>8,.0f} "
              f"{percentile(signin, 95) if signin else math.nan:>11,.0f} "
              f"{len(wire):>5} {_stats(wire)} {errors:>6} "
              f"{r.wall:>6.0f} {r.cpu:>6.1f} {r.machine_cpu:>9.1f} "
              f"{f'{r.rss_before / mb:.0f} / {r.rss_peak / mb:.0f} / {r.rss_after / mb:.0f}':>25}"
              f" {(r.rss_after - r.rss_before) / mb / r.sessions:>18.1f}")
        for kind, values in samples.items():
            if not values:  # the step that failed: its failure is listed below
                continue
            print(f"        {kind:<26} n {len(values):>3}  p50 {statistics.median(values):>7,.0f}"
                  f"  p95 {percentile(values, 95):>7,.0f}  max {max(values):>7,.0f} ms")
        if errors:
            print(f"        errors: {r.outcome.exceptions} exception boxes, "
                  f"{len(r.outcome.failures)} failed steps ({r.outcome.timeouts} timeouts), "
                  f"{r.outcome.dropped} dropped websockets")
        for failure in r.outcome.failures[:5]:
            print(f"        {failure}")


def measure(url: str, label: str, counts: list[int], *, topology: str, rounds: int,
            settle: float, pace: Pace, nice: int, browsers: int | None
            ) -> dict[int, list[Round]]:
    emails = load_users(url, max(counts))
    start = replicas if topology == "replicas" else one_process
    results: dict[int, list[Round]] = {}
    for count in counts:
        with start(url) as server, browser_executable(nice) as executable:
            done = []
            for number in range(rounds):
                done.append(asyncio.run(one_round(
                    server, emails[:count], settle, pace, executable,
                    count if browsers is None else browsers)))
                print(f"  {label}: N={count} round {number + 1}/{rounds} done",
                      file=sys.stderr, flush=True)
            results[count] = done
        report(f"{label}, {topology}, N = {count}", done)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="1,5,10,20",
                        help="numbers of sessions, comma-separated (default 1,5,10,20)")
    parser.add_argument("--topology", choices=("one", "replicas"), default="one",
                        help="one process (the embedded default) or nginx + 2 replicas")
    parser.add_argument("--rounds", type=int, default=2, help="walks per N on one server")
    parser.add_argument("--settle", type=float, default=60,
                        help="seconds after the sessions close before memory is read")
    parser.add_argument("--arrive", type=float, default=0,
                        help="spread the sign-ins evenly over this many seconds (default 0: "
                             "all at once)")
    parser.add_argument("--think", type=float, default=0,
                        help="mean seconds a person reads a page before the next click, "
                             "drawn from 0.5-1.5x of it (default 0: back to back)")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the browsers at this niceness (default 0), so that the "
                             "server under test is not starved by the clients")
    parser.add_argument("--browsers", type=int, default=None,
                        help="how many of the N sessions are browsers (default all); the "
                             "others speak the protocol (bench/wire.py), signed in beforehand")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--opportunities", type=int, default=10_000,
                        help="deals in a database built for the run (PostgreSQL)")
    parser.add_argument("--database", help="use this existing database instead of building one")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sessions.split(",") if n.strip()]
    options = {"topology": args.topology, "rounds": args.rounds, "settle": args.settle,
               "pace": Pace(args.arrive, args.think), "nice": args.nice,
               "browsers": args.browsers}
    print(f"bench.load: N = {', '.join(map(str, counts))}, {args.rounds} rounds, "
          f"{args.topology}, sign-ins over {args.arrive:g} s, think {args.think:g} s, "
          f"Chromium {CHROMIUM} at niceness {args.nice}, "
          f"{'all' if args.browsers is None else args.browsers} of them browsers")
    if args.database:
        backend = make_url(args.database).get_backend_name()
        with get_engine(args.database).connect() as conn:
            deals = conn.exec_driver_sql("SELECT count(*) FROM opportunities").scalar_one()
        get_engine(args.database).dispose()
        measure(args.database, f"{backend}, {deals:,} deals (given database)", counts,
                **options)
        return
    size = 800 if args.backend == "sqlite" else args.opportunities
    with demo_database(args.backend, size) as url:
        measure(url, f"{args.backend}, {size:,} deals", counts, **options)


if __name__ == "__main__":
    main()
