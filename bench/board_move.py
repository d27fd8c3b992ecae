"""Board moves as a person makes them: a card dragged onto another column, and the Move dialog.

    python -m bench.board_move [--runs R] [--moves M]

On the SQLite demo (800 deals, what `make run` shows), served as `isv run` serves it, the VP
signs in to a fresh Chromium profile (1024×768, the tablet the board is laid out for) and
opens the board. Each run then makes M moves of each kind: the first Lead card dragged with
the mouse onto the Demo column (press, move, release), and the first Demo card moved back
to Lead through its Move button and dialog. A move is timed with bench.ui's clock: from the
moment the browser sent the rerun to the server until the page's run has finished and the
card is drawn in its new column; the dialog's opening (a run of the board) is timed apart.
Figures are p50, p95 and max in milliseconds.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections import defaultdict

from bench.ui import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EMAIL,
    PASSWORD,
    TIMEOUT_MS,
    Runs,
    app_server,
    demo_database,
    percentile,
    timed,
)

GOAL_MS = 1000


def _column(page, stage: str):
    return page.locator(f".st-key-board_col_{stage}")


def _first_card(page, stage: str) -> tuple[object, str]:
    card = _column(page, stage).locator("[class*='st-key-card_']").first
    card.wait_for(state="visible", timeout=TIMEOUT_MS)
    key = next(c for c in card.get_attribute("class").split() if c.startswith("st-key-card_"))
    return card, key


def _drawn_in(page, stage: str, key: str):
    return lambda: _column(page, stage).locator(f".{key}").wait_for(
        state="visible", timeout=TIMEOUT_MS)


def _drag(page, card, stage: str) -> None:
    source, target = card.bounding_box(), _column(page, stage).bounding_box()
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + 12)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 60, steps=8)
    page.mouse.up()


def one_run(browser, base: str, moves: int, samples: dict[str, list[float]]) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        runs = Runs(page)
        page.goto(base + "/")
        page.get_by_role("textbox", name="Email").fill(EMAIL)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for(timeout=TIMEOUT_MS)
        page.goto(base + "/board")
        _first_card(page, "lead")
        page.wait_for_timeout(1000)  # the drag element has marked the cards ready
        for _move in range(moves):
            card, key = _first_card(page, "lead")
            card.wait_for(state="attached")
            page.wait_for_function(
                f"() => document.querySelector('.{key}')"
                "?.getAttribute('data-isv-drag') === 'ready'",
                timeout=TIMEOUT_MS)
            samples["drag onto a column"].append(timed(
                page, runs, lambda c=card: _drag(page, c, "demo"),
                _drawn_in(page, "demo", key)))

            card, key = _first_card(page, "demo")
            dialog = page.get_by_role("dialog")
            samples["Move dialog opens"].append(timed(
                page, runs, lambda c=card: c.get_by_role("button", name="Move").click(),
                lambda d=dialog: d.get_by_role("combobox", name=re.compile("To stage"))
                .wait_for(timeout=TIMEOUT_MS)))
            dialog.get_by_role("combobox", name=re.compile("To stage")).click()
            page.get_by_role("option", name="Lead", exact=True).click()
            samples["Move dialog"].append(timed(
                page, runs, lambda d=dialog: d.get_by_role("button", name="Move").click(),
                _drawn_in(page, "lead", key)))
            dialog.wait_for(state="hidden", timeout=TIMEOUT_MS)  # closed by the move
    finally:
        context.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.board_move", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="fresh browser profiles (3)")
    parser.add_argument("--moves", type=int, default=5, help="moves of each kind a run (5)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = defaultdict(list)
    with demo_database("sqlite", 800) as url, app_server(url) as (base, _pid), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for number in range(args.runs):
                one_run(browser, base, args.moves, samples)
                print(f"  run {number + 1}/{args.runs} done", file=sys.stderr, flush=True)
        finally:
            browser.close()
    print(f"\nboard moves, SQLite demo (800 deals), {args.runs} runs × {args.moves} moves")
    print(f"  {'move':<20}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  goal")
    for action, values in samples.items():
        met = "met" if percentile(values, 95) <= GOAL_MS else "missed"
        print(f"  {action:<20}{len(values):>4}{statistics.median(values):>9,.0f}"
              f"{percentile(values, 95):>9,.0f}{max(values):>9,.0f}  p95 ≤ {GOAL_MS:,} {met}")


if __name__ == "__main__":
    main()
