"""What tracing costs on `POST /orders`: two `tally api` processes on the same NATS and
PostgreSQL, one untraced (no OTEL_* variable: tracing off), one exporting every span
(OTEL_TRACES_SAMPLER=always_on) by OTLP/HTTP to a sink in this process; wrk places orders
on each in turn, alternating which goes first, and the ratio traced/untraced is taken
within each run. Each API process's CPU time over the measure, divided by the requests it
answered, gives its CPU per request: the figure a loaded machine distorts least.

    .venv/bin/python -m bench.tracing_cost [--runs 4] [--seconds 8] [--connections 32]

Needs wrk. The projector and fulfilment are not started: the API alone is measured, as
the POST rows of `python -m bench` measure it.
"""

import argparse
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil

from bench import http_rows as http
from bench.cluster import Cluster, Role
from bench.harness import scratch_dir, wrk

STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {text}", flush=True)


class _Sink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports without decoding them (a collector's cost is not ours)."""

    received = 0

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(size)
        _Sink.received += size
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def otlp_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def measure(role: Role, args: argparse.Namespace) -> tuple[float, float]:
    """(req/s, µs of the API process's CPU per request) of one wrk measure."""
    if args.warmup:
        wrk(role.url, http.PLACE, seconds=args.warmup, connections=args.connections)
    process = psutil.Process(role.proc.pid)
    before = process.cpu_times()
    rate = wrk(role.url, http.PLACE, seconds=args.seconds, connections=args.connections)
    after = process.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return rate, cpu / (rate * args.seconds) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk measure")
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    with scratch_dir() as home, otlp_sink() as sink, Cluster(home) as cluster:
        say("starting NATS, PostgreSQL, two tally api (untraced, traced)")
        cluster.migrated()
        plain = cluster.api()
        traced = cluster.api(
            OTEL_EXPORTER_OTLP_ENDPOINT=sink,
            OTEL_TRACES_SAMPLER="always_on",
            OTEL_SERVICE_NAME="tally-bench",
        )
        plain.wait_ready(), traced.wait_ready()
        http.seed_stock(plain.url)
        for run in range(args.runs):
            order = [(plain, off), (traced, on)]
            for role, figures in order if run % 2 == 0 else order[::-1]:
                figures.append(measure(role, args))
            say(
                f"run {run + 1}/{args.runs}: off {off[-1][0]:,.0f} req/s {off[-1][1]:,.0f} µs, "
                f"on {on[-1][0]:,.0f} req/s {on[-1][1]:,.0f} µs"
            )
    report(off, on, args)


def report(
    off: list[tuple[float, float]], on: list[tuple[float, float]], args: argparse.Namespace
) -> None:
    rates = [traced[0] / plain[0] for traced, plain in zip(on, off, strict=True)]
    cpus = [traced[1] / plain[1] for traced, plain in zip(on, off, strict=True)]
    median = statistics.median
    print(f"\nPOST /orders, {args.connections} conns, {args.runs} runs of {args.seconds} s")
    for label, figures in (("off (no OTEL_*)", off), ("on, sampled at 100 %", on)):
        rate, cpu = median(f[0] for f in figures), median(f[1] for f in figures)
        print(f"tracing {label:22} median {rate:8,.0f} req/s {cpu:8,.0f} µs CPU/request")
    runs = ", ".join(f"{r:.2f}" for r in rates)
    print(f"on / off, same run: req/s {median(rates):.2f} ({runs}), CPU/request {median(cpus):.2f}")
    print(f"OTLP bytes exported: {_Sink.received:,}")


if __name__ == "__main__":
    main()
