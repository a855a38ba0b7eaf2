"""Benchmarks: scripts that print numbers, run as `python -m tests.bench.<name>`; pytest skips them."""
