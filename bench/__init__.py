"""Benchmarks and load drivers: run them all with `python -m bench` (not part of the tests)."""
