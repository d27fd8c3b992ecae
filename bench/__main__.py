"""Run every benchmark: `python -m bench` (or `make bench`); one: `python -m bench ui --quick`."""

from __future__ import annotations

import sys

from bench import (
    analytics,
    api,
    crash,
    demo_build,
    idle,
    importer,
    load,
    metrics,
    pack,
    pipeline_pages,
    ui,
    upload_limits,
)

BENCHMARKS = (demo_build, analytics, importer, upload_limits, pipeline_pages, api, pack, ui,
              idle, metrics, load, crash)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    by_name = {module.__name__.rsplit(".", 1)[-1]: module for module in BENCHMARKS}
    if args and args[0] in by_name:
        by_name[args[0]].main(args[1:])
        return
    if args:
        sys.exit(f"unknown benchmark {args[0]!r}: one of {', '.join(by_name)}")
    for module in BENCHMARKS:
        module.main([])


if __name__ == "__main__":
    main()
