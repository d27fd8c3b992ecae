"""Run every benchmark: `python -m bench` (or `make bench`)."""

from __future__ import annotations

from bench import analytics, demo_build, importer, pack, pipeline_pages

BENCHMARKS = (demo_build, analytics, importer, pipeline_pages, pack)


def main() -> None:
    for module in BENCHMARKS:
        module.main([])


if __name__ == "__main__":
    main()
