"""Benchmarks: every Tally figure beside the raw NATS / PostgreSQL / Starlette figure measured
in the same run. Never part of the test command."""
