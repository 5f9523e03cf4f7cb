"""Tally against raw NATS and raw PostgreSQL, in one run: one table, also written as JSON.

    .venv/bin/python -m bench [--runs 3] [--seconds 8] [--events 200000] [--quick]
    .venv/bin/python -m bench --only get,latency     # some sections; ratios still same-run

Needs wrk on the PATH (Debian: `apt-get install -y wrk`). Starts its own NATS servers
(JetStream default sync, and `sync_interval: always` for the fsync append rows) and its
own PostgreSQL (synchronous_commit on, the default, but for the projectors' sessions:
TALLY_PROJECTION_SYNCHRONOUS_COMMIT, off unless set); see docs/benchmarks.md.
"""

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from bench import http_rows as http
from bench import projection_rows, up_rows
from bench.cluster import Cluster, Role
from bench.harness import Figure, port, scratch_dir
from bench.query_rows import QUERY_ROWS
from bench.report import Row, at_least, at_most, render, write_json
from bench.run_sections import CPU_PARTS, STARTED, Note, Running, each_run, say

MB = 1024 * 1024
SECTIONS = ("fsync", "post", "workers", "get", "confirm", "latency", "catchup", "partitions", "up")


class Figures(dict[str, Figure]):
    def add(self, key: str, name: str, unit: str) -> None:
        self[key] = Figure(name, unit)


def make_figures(conns: int, events: int) -> Figures:
    f = Figures()
    for key, name, unit in [
        ("orders", f"POST /orders, {conns} conns, 2 lines", "req/s"),
        ("orders_workers", f"POST /orders, {conns} conns, tally api --workers 2", "req/s"),
        ("orders_fsync", f"POST /orders, {conns} conns, JetStream fsync always", "req/s"),
        ("receive", f"POST /stock/{{sku}}/receive, {conns} conns, 1000 SKUs", "req/s"),
        ("receive_fsync", "POST /stock/{sku}/receive, JetStream fsync always", "req/s"),
        ("trivial_post", f"trivial Starlette POST, {conns} conns", "req/s"),
        *((key, f"{name}, {conns} conns", "req/s") for key, name in QUERY_ROWS.items()),
        ("trivial_get", f"trivial Starlette GET, {conns} conns", "req/s"),
        ("visible_p50", "POST -> GET after= visible, p50", "ms"),
        ("visible_p99", "POST -> GET after= visible, p99", "ms"),
        ("raw_p50", "raw publish -> consumer -> upsert, p50", "ms"),
        ("raw_p99", "raw publish -> consumer -> upsert, p99", "ms"),
        ("confirmed", "orders confirmed/s, 100 SKUs, 2 lines", "orders/s"),
        ("cpu_order", "CPU per placed order, whole system", "ms"),
        *((f"cpu_order_{part}", f"  ... of which {part}", "ms") for part in CPU_PARTS),
        ("rss_api", "peak RSS tally api", "MB"),
        ("rss_project", "peak RSS tally project", "MB"),
        ("rss_fulfil", "peak RSS tally fulfil", "MB"),
    ]:
        f.add(key, name, unit)
    projection_rows.add_figures(f.add, events)
    up_rows.add_figures(f.add)
    return f


def rows(f: Figures) -> list[Row]:
    post, ratio30 = (f["trivial_post"],), "ratio >= 0.30"  # issue 12 (aim: 0.5)
    return [
        Row(f["orders"], post, ratio30, at_least(0.3)),
        Row(f["orders_workers"], post, ratio30, at_least(0.3)),
        Row(f["orders_fsync"], post, ratio30, at_least(0.3)),
        Row(f["receive"], post, ratio30, at_least(0.3)),
        Row(f["receive_fsync"], post, ratio30, at_least(0.3)),
        Row(f["get"], (f["trivial_get"],), "ratio >= 0.35", at_least(0.35)),
        Row(f["get_after"], (f["get"],), "ratio >= 0.90", at_least(0.9)),
        *(
            Row(f[key], (f["trivial_get"],), "ratio >= 0.25", at_least(0.25))
            for key in ("get_stock", "list_orders", "list_stock")
        ),
        *projection_rows.rows(f),
        Row(f["visible_p50"], (f["raw_p50"],), "ratio <= 3", at_most(3)),
        Row(f["visible_p99"], (f["raw_p99"],), "ratio <= 5", at_most(5)),
        Row(f["confirmed"], (), ">= 1,000/s", at_least(1000)),
        Row(f["cpu_order"], (), "<= 1 ms", at_most(1)),
        *(Row(f[f"cpu_order_{part}"]) for part in CPU_PARTS),
        Row(f["rss_api"], (), "<= 150 MB", at_most(150)),
        *(Row(f[k], (), "<= 200 MB", at_most(200)) for k in ("rss_project", "rss_fulfil")),
        *up_rows.rows(f),
    ]


BASELINES = [
    "trivial_post",
    "trivial_get",
    *projection_rows.BASELINES,
    "raw_p50",
    "raw_p99",
]


def start_fulfil(cluster: Cluster) -> Role:
    """`tally fulfil` with its /metrics (read by the confirm row's probe). A backlog (the
    POST rows leave thousands of orders) must not turn into payment_unavailable
    rejections, which cost a release each: this measures throughput, not the deadline."""
    metrics_port = port()
    return cluster.start(
        "fulfil",
        url=f"http://127.0.0.1:{metrics_port}",
        TALLY_METRICS_PORT=str(metrics_port),
        TALLY_PAYMENT_DEADLINE_SECONDS="3600",
    )


def measure(home: Path, f: Figures, args: argparse.Namespace, notes: list[Note]) -> None:
    say("starting NATS (default sync, and fsync always), PostgreSQL, the roles")
    with (
        Cluster(home / "fsync", sync_always=True, postgres=False) as fsync_cluster,
        Cluster(home / "main") as cluster,
    ):
        fsync_api = fsync_cluster.migrated().api() if "fsync" in args.only else None
        api = cluster.migrated().api()
        workers = cluster.api_workers(2) if "workers" in args.only else None
        projector, fulfil = cluster.start("project"), start_fulfil(cluster)
        with http.trivial_app() as trivial:
            http.seed_stock(api.wait_ready().url)
            roles = (api, projector, fulfil)
            each_run(Running(cluster, *roles, trivial, fsync_api, workers, f, args, notes))
        if "catchup" in args.only:
            fulfil.pause()  # the catch-up publishes orders that fulfilment must not decide
            uvloop.run(projection_rows.stream_phase(cluster, projector, f, args, say))
    for role, peak in cluster.rss.peaks.items():
        if role in ("api", "project", "fulfil"):
            f[f"rss_{role}"].runs.append(peak / MB)


def sections(text: str) -> set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    if unknown := chosen - set(SECTIONS):
        raise argparse.ArgumentTypeError(f"unknown sections {sorted(unknown)}; {SECTIONS}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="per wrk measure")
    parser.add_argument("--events", type=int, default=200_000, help="published per catch-up run")
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds before each")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--samples", type=int, default=300, help="latency samples per run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw profiles here")
    parser.add_argument(
        "--only",
        type=sections,
        default=set(SECTIONS),
        help=f"comma-separated sections of {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--up-seconds", type=float, default=60, help="tally up at a fixed load")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.seconds, args.events, args.samples = 1, 1, 1000, 5
        args.connections, args.warmup = 4, 0
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or Path("bench/results") / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    f = make_figures(args.connections, args.events)
    notes: list[Note] = []  # what fulfilment did in each confirm run
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with scratch_dir() as home:
        measure(home, f, args, notes)
    if "partitions" in args.only:
        projection_rows.partition_phase(f, args, say)
    if "up" in args.only:
        up_rows.up_phase(f, 5 if args.quick else args.up_seconds, say)
    table = render(rows(f) + [Row(f[key]) for key in BASELINES])
    settings = {
        "runs": args.runs,
        "seconds": args.seconds,
        "events": args.events,
        "samples": args.samples,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "sections": sorted(args.only),
        "jetstream": "default sync (sync_interval 2 min); fsync rows: sync_interval always",
        "postgres": "synchronous_commit on (default); projectors: "
        + os.environ.get("TALLY_PROJECTION_SYNCHRONOUS_COMMIT", "off"),
        "load_average_end": os.getloadavg(),
        "cpus": os.cpu_count(),
        "elapsed_s": round(time.monotonic() - STARTED),
    }
    print(f"\n{table}\n\nsettings: {settings}")
    write_json(rows(f), [f[key] for key in BASELINES], settings, out, {"confirm_runs": notes})
    print(f"written to {out}")


if __name__ == "__main__":
    main()
