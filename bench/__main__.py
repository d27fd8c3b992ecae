"""Run every benchmark: `python -m bench` (or `make bench`)."""

from __future__ import annotations

from bench import demo_build

BENCHMARKS = (demo_build,)


def main() -> None:
    for module in BENCHMARKS:
        module.main([])


if __name__ == "__main__":
    main()
