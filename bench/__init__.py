"""Benchmarks: run on purpose (`make bench`), not by the test suite."""
