"""The sections of one bench run that measure against running roles: the HTTP rows
(fsync, POST, 2 API workers, GETs), orders confirmed with the CPU they cost, and the
read-your-writes latency; each appends its figures to the run's table."""

import argparse
import os
import time
from dataclasses import dataclass, field

import uvloop

from bench import http_rows as http
from bench import latency
from bench.cluster import Cluster, Role, profiled
from bench.fulfilment_probe import Probe
from bench.harness import Figure, wrk
from bench.orders_decided import read_decided, stream_end
from bench.query_rows import orders_held, query_scripts
from bench.system_cpu import SystemCpu, postmaster_pid

CPU_PARTS = ("api", "fulfil", "project", "nats", "postgres")
Note = dict[str, object]  # one confirm run's figures and what fulfilment did in it
STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {text}", flush=True)


def system_cpu(cluster: Cluster, api: Role, projector: Role, fulfil: Role) -> SystemCpu:
    """Every process of the system (the bench's own reads are not: see `confirm_rows`)."""
    assert cluster.postgres is not None
    assert cluster.nats.pid is not None
    processes = {
        "api": api.proc.pid,
        "fulfil": fulfil.proc.pid,
        "project": projector.proc.pid,
        "nats": cluster.nats.pid,
        "postgres": postmaster_pid(cluster.postgres.data_dir),
    }
    return SystemCpu(processes)


def rate(url: str, script: str, args: argparse.Namespace) -> float:
    """wrk's req/s after a warm-up with the same script (caches filled, pools opened, the
    API caught up with what other processes appended to the same aggregates)."""
    if args.warmup:
        wrk(url, script, seconds=args.warmup, connections=args.connections)
    return wrk(url, script, seconds=args.seconds, connections=args.connections)


@dataclass
class Running:
    """One run's servers and roles, for the sections that measure against them."""

    cluster: Cluster
    api: Role
    projector: Role
    fulfil: Role
    trivial: str
    fsync_api: Role | None
    workers: Role | None
    f: dict[str, Figure]
    args: argparse.Namespace
    notes: list[Note] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.f[key].runs.append(value)


def fsync_rows(r: Running, run: int) -> None:
    assert r.fsync_api is not None
    say(f"run {run + 1}/{r.args.runs}: append rows, JetStream fsync always")
    url = r.fsync_api.wait_ready().url
    for key, script in (("receive_fsync", http.RECEIVE), ("orders_fsync", http.PLACE)):
        r.add(key, rate(url, script, r.args))


def post_rows(r: Running, run: int) -> None:
    """Fulfilment and the projectors run meanwhile, as in production; the baseline after,
    on a quiet system: the ratio errs against Tally."""
    say(f"run {run + 1}/{r.args.runs}: HTTP rows")
    spy = r.args.profile if run == 0 else None
    if "post" in r.args.only:
        with profiled(r.api.proc.pid, spy, "api-receive"):
            r.add("receive", rate(r.api.url, http.RECEIVE, r.args))
        with profiled(r.api.proc.pid, spy, "api-orders"):
            r.add("orders", rate(r.api.url, http.PLACE, r.args))
    if r.workers is not None:
        r.add("orders_workers", rate(r.workers.wait_ready().url, http.PLACE, r.args))
    uvloop.run(http.settle(r.cluster.nats.url, r.cluster.dsn))
    r.add("trivial_post", rate(r.trivial, http.RECEIVE, r.args))


def get_rows(r: Running, run: int) -> None:
    spy = r.args.profile if run == 0 else None
    if not uvloop.run(orders_held(r.cluster.dsn)):  # `--only get`: no POST row placed any
        wrk(r.api.url, http.PLACE, seconds=3, connections=r.args.connections)
        uvloop.run(http.settle(r.cluster.nats.url, r.cluster.dsn))
    gets = uvloop.run(query_scripts(r.cluster.dsn))
    for key, script in gets.items():  # the first, GET /orders/{id}, profiled
        with profiled(r.api.proc.pid, spy if key == "get" else None, "api-get"):
            r.add(key, rate(r.api.url, script, r.args))
    r.add("trivial_get", rate(r.trivial, gets["get"], r.args))


def confirm_rows(r: Running, run: int) -> None:
    """wrk places orders while every role runs; the CPU of the system from the first POST
    until every role is idle, then what ORDERS stored meanwhile, read back (`orders_decided`:
    no watch of the bench's own on ORDERS during the measure)."""
    say(f"run {run + 1}/{r.args.runs}: orders confirmed, CPU per order")
    nats_url = r.cluster.nats.url
    probe = Probe(nats_url, r.fulfil.url, r.cluster.monitor_url)
    before = uvloop.run(probe.read())
    load = os.getloadavg()[0]
    start = uvloop.run(stream_end(nats_url))
    cpu = system_cpu(r.cluster, r.api, r.projector, r.fulfil)
    cpu.start()  # from the first POST until every role is idle again
    with profiled(r.fulfil.proc.pid, r.args.profile if run == 0 else None, "fulfil"):
        wrk(r.api.url, http.PLACE, seconds=r.args.seconds, connections=r.args.connections)
        uvloop.run(http.settle(nats_url, r.cluster.dsn))
    spent = cpu.spent()
    after = uvloop.run(probe.read())
    decided = uvloop.run(read_decided(nats_url, start))
    placed = len(decided.placed)
    if decided.confirmed + decided.rejected < placed:
        raise RuntimeError(f"not settled: {decided.confirmed} of {placed}")
    confirmed = decided.per_second()
    r.add("confirmed", confirmed)
    r.add("cpu_order", sum(spent.values()) / placed * 1000)
    for part in CPU_PARTS:
        r.add(f"cpu_order_{part}", spent[part] / placed * 1000)
    note: Note = {
        "run": run + 1,
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "confirmed_per_s": round(confirmed, 1),
        "confirmed": decided.confirmed,
        "rejected": decided.rejected,
        "cpu_ms_per_order": {part: round(spent[part] / placed * 1000, 2) for part in CPU_PARTS},
        **after.minus(before, placed),
    }
    r.notes.append(note)
    say(f"run {run + 1}: what fulfilment did: {note}")


def latency_rows(r: Running, run: int) -> None:
    say(f"run {run + 1}/{r.args.runs}: read-your-writes latency")
    mine = uvloop.run(latency.tally_latency(r.api.url, r.args.samples))
    raw = uvloop.run(latency.raw_latency(r.cluster.nats.url, r.cluster.dsn, r.args.samples))
    for key, samples in (("visible", mine), ("raw", raw)):
        r.add(f"{key}_p50", latency.percentile(samples, 0.5) * 1000)
        r.add(f"{key}_p99", latency.percentile(samples, 0.99) * 1000)


def each_run(r: Running) -> None:
    only = r.args.only
    for run in range(r.args.runs):
        if r.fsync_api is not None:
            fsync_rows(r, run)
        if {"post", "workers"} & only:
            post_rows(r, run)
        for name, section in (("get", get_rows), ("confirm", confirm_rows)):
            if name in only:
                section(r, run)
        if "latency" in only:
            latency_rows(r, run)
