"""Speed as a person feels it: a real Chromium against `streamlit run serve.py`.

    python -m bench.ui [--backend sqlite|postgresql] [--runs R] [--opportunities N]
                       [--database URL] [--quick] [--samples FILE]

For each backend a server is started as `isv run` starts it (own process, 127.0.0.1, no file
watcher) on a fresh database: SQLite with the demo (800 deals, what `make run` shows) and
PostgreSQL with `isv demo --opportunities 100000` (server at ISV_BENCH_POSTGRES_URL; or an
existing database with --database, left as it is apart from the moves and saves below).
Each run, as the VP (sees every deal) in a fresh browser profile, times:

- sign-in: the click on "Sign in" until the dashboard's run has finished and its nine KPI
  cards and four charts are drawn;
- filter change: a Domain picked on the dashboard, until the rerun finished and the charts
  are drawn again;
- first chart PNG: the PNG button of the first chart until the browser has the file (the
  first of the process starts the renderer: reported on its own as "cold");
- navigation: a sidebar click until the page's run finished and its title shows (dashboard
  → pipeline analytics → opportunities → board → dashboard: 4 a run);
- grid save: "Save changes" after one Value edit until "Saved: 1 changed." shows;
- Move dialog opens: "Move" on the first Lead card until its dialog shows the stage picker
  (a run of the board);
- board move: "Move" in that dialog (to Demo) until "Moved … to Demo." shows.

"Finished" is Streamlit's own script_finished message on the page's WebSocket, so a run
still drawing is never mistaken for a page that is ready. Figures are p50 and p95 over all
samples in milliseconds, with the server's CPU seconds for the whole run. --quick: SQLite
only, 6 runs (under five minutes on the 2-core VM). --samples: every sample as JSON, in the
order taken (navigation: analytics, opportunities, board, dashboard, a run), to find which
run or page made a p95.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.demo_build import postgres_database, sqlite_database
from isv import devserver, migrate
from isv.db import get_engine, session_scope
from isv.demo import DEMO_LOGINS, load_demo
from isv.models import DOMAINS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# The flags of tests/e2e/conftest.py: no sandbox (root in a VM), nothing fetched in the
# background that would compete with the page.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
EMAIL, PASSWORD = next((e, p) for e, p, role, _ in DEMO_LOGINS if role == "vp")
COOKIE = "isv_bench_ui"
TIMEOUT_MS = 180_000
MOVE_TO = "Demo"  # the label of stage `demo`: the first Lead card moves one stage on
NAVIGATION = ("Pipeline analytics", "Opportunities", "Pipeline board", "Executive dashboard")
ACTIONS = ("sign-in", "navigation", "filter change", "grid save", "board move",
           "Move dialog opens", "chart PNG (warm)", "chart PNG (cold)")
SERVER = "server: "  # samples[SERVER + action]: until the server's last run of it finished
GOALS_MS = {"sign-in": 2000, "navigation": 1000, "filter change": 1000, "grid save": 1000,
            "board move": 1000}
# The login page's hidden elements (isv/ui/login.py, _warm_browser) are not the dashboard's.
DASHBOARD_READY = """() => {
  const main = (sel) => [...document.querySelectorAll(sel)]
    .filter((e) => !e.closest('.st-key-isv_warm_browser'));
  return main('[data-testid=stMetric]').length >= 9 &&
    main('[data-testid=stPlotlyChart] .main-svg').length >= 4;
}"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), children not included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def app_server(url: str, extra_env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """`streamlit run serve.py` on `url` as `isv run` starts it; yields (base URL, pid)."""
    port = devserver.free_port()
    env = {**os.environ, "ISV_DATABASE_URL": url, "ISV_COOKIE_NAME": COOKIE,
           "LOG_LEVEL": "WARNING", **(extra_env or {})}
    log = Path(tempfile.gettempdir()) / f"isv-bench-ui-{port}.log"
    base = f"http://127.0.0.1:{port}"
    try:
        with devserver.serving(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"),
                 "--server.port", str(port), "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                 "--browser.gatherUsageStats", "false"],
                env=env, health_url=f"{base}/_stcore/health", log=log) as proc:
            yield base, proc.pid
    finally:
        log.unlink(missing_ok=True)


class Runs:
    """The script runs a page asked for and saw finish, from Streamlit's own messages."""

    def __init__(self, page) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg, self._back = ForwardMsg, BackMsg
        self.finished = 0
        self.finished_at = 0.0  # when the last script run finished
        self.split = 0.0  # set by `timed`
        self.asked: list[float] = []  # when the browser sent each rerun request
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        if ws.url.endswith("/_stcore/stream"):
            ws.on("framereceived", self._frame)
            ws.on("framesent", self._sent)

    def _sent(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._back()
        try:
            msg.ParseFromString(payload)
        except Exception:
            return
        if msg.WhichOneof("type") == "rerun_script":
            self.asked.append(time.perf_counter())

    def _frame(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._msg()
        try:
            msg.ParseFromString(payload)
        except Exception:
            return
        if (msg.WhichOneof("type") == "script_finished"
                and msg.script_finished == self._msg.FINISHED_SUCCESSFULLY):
            self.finished += 1
            self.finished_at = time.perf_counter()


def timed(page, runs: Runs, action: Callable[[], None], ready: Callable[[], None]) -> float:
    """Milliseconds from the person's action until a whole script run has finished and
    `ready` holds. `runs.split` is left holding the part until the server's last run
    finished; the rest is the browser drawing.

    The action counts from the moment the browser sent it to the server: Playwright's own
    steps before a click lands (finding, scrolling, checking the element) are no part of
    what a person waits for, and took up to 0.7 s on a loaded machine.
    """
    before, asked = runs.finished, len(runs.asked)
    started = time.perf_counter()
    action()
    deadline = started + TIMEOUT_MS / 1000
    while runs.finished <= before:
        if time.perf_counter() > deadline:
            raise TimeoutError("no script run finished")
        page.wait_for_timeout(5)
    ready()
    if len(runs.asked) > asked:
        started = runs.asked[asked]
    runs.split = (runs.finished_at - started) * 1000
    return (time.perf_counter() - started) * 1000


def record(samples: dict[str, list[float]], name: str, page, runs: Runs,
           action: Callable[[], None], ready: Callable[[], None]) -> None:
    """Times one action into `samples[name]`, and its server part into SERVER + name."""
    samples[name].append(timed(page, runs, action, ready))
    samples[SERVER + name].append(runs.split)


def _visible(locator) -> Callable[[], None]:
    return lambda: locator.first.wait_for(state="visible", timeout=TIMEOUT_MS)


def _dashboard_ready(page) -> Callable[[], None]:
    return lambda: page.wait_for_function(DASHBOARD_READY, polling="raf", timeout=TIMEOUT_MS)


def _heading(page, title: str):
    return page.get_by_role("heading", name=title, exact=True)


def _sidebar(page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=re.compile(f"{title}$")).click()


def _edit_first_value(page, value: str) -> None:
    """Type a new Value into the grid's first row (see tests/e2e/test_pipeline.py)."""
    table = page.get_by_test_id("stDataFrame").first.locator("table")
    table.locator("thead th").first.wait_for(state="attached", timeout=TIMEOUT_MS)
    names = [h.strip() for h in table.locator("thead th").all_text_contents()]
    box = page.get_by_test_id("stDataFrame").first.bounding_box()
    page.mouse.click(box["x"] + 130, box["y"] + 35 + 17)
    page.wait_for_timeout(300)
    for _ in range(names.index("Value") - names.index("Customer")):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(value, delay=50)
    page.wait_for_timeout(500)
    page.keyboard.press("Enter")


def one_run(browser, base: str, number: int, samples: dict[str, list[float]]) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        runs = Runs(page)
        page.goto(base)
        page.get_by_role("textbox", name="Email").wait_for(timeout=TIMEOUT_MS)
        page.wait_for_load_state("networkidle")  # as a person reads the form before typing
        page.get_by_role("textbox", name="Email").fill(EMAIL)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        record(samples, "sign-in", page, runs,
               lambda: page.get_by_role("button", name="Sign in").click(),
               _dashboard_ready(page))

        domain = DOMAINS[number % len(DOMAINS)]

        def pick_domain() -> None:
            page.get_by_role("combobox", name=re.compile("^Domain")).first.click()
            page.get_by_role("option", name=domain, exact=True).click()

        record(samples, "filter change", page, runs,
               pick_domain, _dashboard_ready(page))

        png = page.get_by_role("button", name="PNG", exact=True).first
        png.wait_for(state="visible")
        started = time.perf_counter()
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            png.click()
        download.value.path()
        samples["chart PNG (cold)" if number == 0 else "chart PNG (warm)"].append(
            (time.perf_counter() - started) * 1000)

        for title in NAVIGATION[:2]:
            record(samples, "navigation", page, runs,
                   lambda t=title: _sidebar(page, t), _visible(_heading(page, title)))

        value = str(100_000 + int(time.time() * 10) % 800_000)  # never the value it has
        _edit_first_value(page, value)
        save = page.get_by_role("button", name="Save changes")
        page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some(b => "
            "b.innerText.includes('Save changes') && !b.disabled)", timeout=TIMEOUT_MS)
        record(samples, "grid save", page, runs,
               save.click, _visible(page.get_by_text("Saved: 1 changed.")))

        for title in NAVIGATION[2:3]:
            record(samples, "navigation", page, runs,
                   lambda t=title: _sidebar(page, t), _visible(_heading(page, title)))

        dialog = page.get_by_role("dialog")
        record(samples, "Move dialog opens", page, runs,
               page.get_by_role("button", name=re.compile("Move")).first.click,
               _visible(dialog.get_by_role("combobox", name=re.compile("To stage"))))
        dialog.get_by_role("combobox", name=re.compile("To stage")).click()
        page.get_by_role("option", name=MOVE_TO, exact=True).click()
        record(samples, "board move", page, runs,
               lambda: dialog.get_by_role("button", name="Move").click(),
               _visible(page.get_by_text(re.compile(rf"Moved .+ to {MOVE_TO}\."))))

        record(samples, "navigation", page, runs,
               lambda: _sidebar(page, NAVIGATION[3]), _dashboard_ready(page))
    finally:
        context.close()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: p95 of 20 samples is the 19th smallest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(url: str, label: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = defaultdict(list)
    with app_server(url) as (base, pid), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            for number in range(runs):
                one_run(browser, base, number, samples)
                print(f"  {label}: run {number + 1}/{runs} done", file=sys.stderr, flush=True)
            wall = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
        finally:
            browser.close()
    report(label, samples, wall, cpu)
    return samples


def report(label: str, samples: dict[str, list[float]], wall: float, cpu: float) -> None:
    load = os.getloadavg()
    print(f"\n{label}: {wall:.0f} s wall, server CPU {cpu:.0f} s; load average "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
    print(f"  {'action':<18}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  "
          f"{'goal p95':<16}{'server p50 / p95':>17}")
    for action in ACTIONS:
        values = samples.get(action)
        if not values:
            continue
        goal = GOALS_MS.get(action)
        mark = "" if goal is None else (
            f"≤ {goal:,} {'met' if percentile(values, 95) <= goal else 'missed'}")
        server = samples.get(SERVER + action)
        split = (f"{statistics.median(server):,.0f} / {percentile(server, 95):,.0f}"
                 if server else "")
        print(f"  {action:<18}{len(values):>4}{statistics.median(values):>9,.0f}"
              f"{percentile(values, 95):>9,.0f}{max(values):>9,.0f}  {mark:<16}{split:>17}")


@contextmanager
def demo_database(backend: str, opportunities: int) -> Iterator[str]:
    database = postgres_database if backend == "postgresql" else sqlite_database
    with database() as url:
        started = time.perf_counter()
        migrate.upgrade(url)
        with session_scope(url) as session:
            load_demo(session=session, opportunities=opportunities)
            session.commit()
        if backend == "postgresql":
            # As autovacuum leaves a table after a load this size (see bench/pipeline_pages.py).
            with get_engine(url).connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE")
        get_engine(url).dispose()
        print(f"{backend}: {opportunities:,} deals built in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
        yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append",
                        help="only this backend (repeatable); default both")
    parser.add_argument("--runs", type=int, default=None, help="runs per backend (default 10)")
    parser.add_argument("--opportunities", type=int, default=100_000,
                        help="deals in the PostgreSQL database (SQLite: the 800 of the demo)")
    parser.add_argument("--database", help="use this existing database instead of building one")
    parser.add_argument("--quick", action="store_true",
                        help="the SQLite demo only, 6 runs: a few minutes")
    parser.add_argument("--samples", type=Path,
                        help="write every sample (ms) to this JSON file, by backend and action")
    args = parser.parse_args(argv)
    kept: dict[str, dict[str, list[float]]] = {}
    backends = ["sqlite"] if args.quick else (args.backend or ["sqlite", "postgresql"])
    runs = args.runs or (6 if args.quick else 10)
    print(f"bench.ui: {runs} runs per backend, Chromium {CHROMIUM}")
    if args.database:
        backend = make_url(args.database).get_backend_name()
        with get_engine(args.database).connect() as conn:
            deals = conn.exec_driver_sql("SELECT count(*) FROM opportunities").scalar_one()
        get_engine(args.database).dispose()
        kept[backend] = measure(args.database, f"{backend}, {deals:,} deals (given database)",
                                runs)
    for backend in [] if args.database else backends:
        size = 800 if backend == "sqlite" else args.opportunities
        try:
            with demo_database(backend, size) as url:
                kept[backend] = measure(url, f"{backend}, {size:,} deals", runs)
        except Exception as exc:  # a missing server should not hide the other figures
            print(f"  {backend} skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if args.samples:
        args.samples.write_text(json.dumps(kept, indent=1))


if __name__ == "__main__":
    main()
