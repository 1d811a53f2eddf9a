"""Benchmarks with their baselines, run by one command: ``python -m bench`` (see bench/README.md)."""
