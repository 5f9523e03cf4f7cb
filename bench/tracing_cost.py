"""What tracing costs on `POST /orders`: two `tally api` processes on the same NATS and
PostgreSQL, one untraced (no OTEL_* variable: tracing off), one exporting every span
(OTEL_TRACES_SAMPLER=always_on) by OTLP/HTTP to a sink in this process; wrk places orders
on each in turn, alternating which goes first, and the ratio traced/untraced is taken
within each run.

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

from bench import http_rows as http
from bench.cluster import Cluster
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk measure")
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds before each")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    off: list[float] = []
    on: list[float] = []
    with scratch_dir() as home, otlp_sink() as sink, Cluster(home) as cluster:
        say("starting NATS, PostgreSQL, two tally api (untraced, traced)")
        cluster.migrated()
        plain = cluster.api()
        traced = cluster.api(
            OTEL_EXPORTER_OTLP_ENDPOINT=sink,
            OTEL_TRACES_SAMPLER="always_on",
            OTEL_SERVICE_NAME="tally-bench",
        )
        plain_url, traced_url = plain.wait_ready().url, traced.wait_ready().url
        http.seed_stock(plain_url)
        for run in range(args.runs):
            order = [(plain_url, off), (traced_url, on)]
            for url, figures in order if run % 2 == 0 else order[::-1]:
                if args.warmup:
                    wrk(url, http.PLACE, seconds=args.warmup, connections=args.connections)
                figures.append(
                    wrk(url, http.PLACE, seconds=args.seconds, connections=args.connections)
                )
            say(f"run {run + 1}/{args.runs}: off {off[-1]:,.0f} req/s, on {on[-1]:,.0f} req/s")
    ratios = [traced_rate / plain_rate for traced_rate, plain_rate in zip(on, off, strict=True)]
    print(f"\nPOST /orders, {args.connections} conns, {args.runs} runs of {args.seconds} s")
    print(f"tracing off (no OTEL_*):        median {statistics.median(off):8,.0f} req/s")
    print(f"tracing on, sampled at 100 %:   median {statistics.median(on):8,.0f} req/s")
    print(
        f"on / off, same run:            median {statistics.median(ratios):8.2f} "
        f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(f"OTLP bytes exported: {_Sink.received:,}")


if __name__ == "__main__":
    main()
