"""The scaling curve of a partitioned view: catch-up of the orders view on the same events
with 1, 2 and 4 partitions, each partition in a `tally project --take P` process of its own,
and the CPU each process used, so that the figure on a machine with more cores can be
predicted (a process near 100 % of a core is bound by itself, one well below it by
PostgreSQL, NATS or the cores it shares); beside them the CPU of PostgreSQL (the postmaster
and every backend) and of the NATS server over the same time, and their sum against the
machine's cores (in cores: 0.67 is two thirds of one), and the cores the whole machine
kept busy meanwhile (/proc/stat, everyone's work): near all of them, the curve is bound by
the machine, not by the design.

The events are published once into a store made before partitions existed; for each count
a copy of that store is repartitioned by `TALLY_PARTITIONS=N tally migrate` (the migration
itself is exercised on the whole backlog), then the processes are started together and
timed from their start (their start-up is in the figure, which errs against the larger
counts) until every partition's checkpoint has reached its last event.

    .venv/bin/python -m bench.projection_partitions [--events 200000] [--counts 1,2,4]
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import nats
import psutil
import uvloop

from bench.harness import VENV_BIN, scratch_dir
from bench.stream_rows import publish_orders
from bench.system_cpu import TICKS, tree_cpu
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres
from write_side.streams import StreamSettings, ensure_streams

TALLY = str(VENV_BIN / "tally")


@dataclass
class Curve:
    partitions: int
    rate: float  # events/s of the whole view
    cpu: list[float]  # share of one core, per process
    servers: dict[str, float]  # share of one core: PostgreSQL, NATS
    machine: float = 0.0  # cores the whole machine kept busy meanwhile (/proc/stat)
    first_commit: float = 0.0  # s from the start until any partition's first commit

    def describe(self) -> str:
        shares = ", ".join(f"{share:.0%}" for share in self.cpu)
        servers = ", ".join(f"{name} {share:.0%}" for name, share in self.servers.items())
        total = sum(self.cpu) + sum(self.servers.values())
        return (
            f"{self.partitions} partition(s): {self.rate:,.0f} events/s, CPU per process {shares};"
            f" {servers}; together {total:.2f} cores of {os.cpu_count()}"
            f" (the machine, everyone's work: {self.machine:.2f} cores busy);"
            f" first commit after {self.first_commit:.2f} s (start-up, in the figure)"
        )


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot, all cores: the first
    line of /proc/stat less its idle and iowait."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


async def publish_store(home: Path, events: int) -> Path:
    """A NATS store holding `events` ORDERS events, made before partitions existed."""
    store = home / "base"
    server = EmbeddedNats(store)
    server.start()
    try:
        nc = await nats.connect(server.url)
        await ensure_streams(nc.jetstream(), StreamSettings())
        await publish_orders(nc, events)
        await nc.close()
    finally:
        server.stop()
    return store


async def _heads(url: str, count: int) -> dict[str, int]:
    nc = await nats.connect(url)
    js, heads = nc.jetstream(), {}
    try:
        for partition in range(count):
            subject = f"orders.{partition}.*" if count > 1 else "orders.*"
            name = f"orders/{partition}" if count > 1 else "orders"
            heads[name] = int((await js.get_last_msg("ORDERS", subject)).seq or 0)
    finally:
        await nc.close()
    return heads


async def _reached(dsn: str, heads: dict[str, int], started: float) -> float:
    """Wait until every partition's checkpoint reaches its head; the seconds from
    `started` until the first checkpoint moved (the processes' start-up, to within the
    50 ms poll)."""
    conn = await asyncpg.connect(dsn)
    first: float | None = None
    try:
        while True:
            rows = await conn.fetch("SELECT name, position FROM projection_checkpoints")
            done = {row["name"]: int(row["position"]) for row in rows}
            if first is None and any(done.get(name, 0) > 0 for name in heads):
                first = time.perf_counter() - started
            if all(done.get(name, 0) >= seq for name, seq in heads.items()):
                return first if first is not None else time.perf_counter() - started
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def catch_up(home: Path, store: Path, count: int, events: int) -> Curve:
    work = home / f"n{count}"
    shutil.copytree(store, work / "nats")
    server, postgres = EmbeddedNats(work / "nats"), EmbeddedPostgres(work / "pg")
    server.start()
    postgres.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        dsn = postgres.create_database("bench")
        env = {**os.environ, "NATS_URL": server.url, "DATABASE_URL": dsn}
        env |= {"TALLY_PARTITIONS": str(count), "TALLY_LOG_LEVEL": "warning"}
        migrated = await asyncio.to_thread(
            subprocess.run, [TALLY, "migrate"], env=env, capture_output=True, text=True
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"tally migrate failed:\n{migrated.stderr[-3000:]}")
        heads = await _heads(server.url, count)
        assert postgres.pid is not None and server.pid is not None
        servers = {"PostgreSQL": postgres.pid, "NATS": server.pid}
        before = {name: tree_cpu([pid]) for name, pid in servers.items()}
        busy = busy_seconds()
        started = time.perf_counter()
        for partition in range(count):
            take = ["--take", str(partition)] if count > 1 else []
            processes.append(
                subprocess.Popen(  # noqa: ASYNC220 (started at once, never waited on here)
                    [TALLY, "project", "orders", *take],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        first_commit = await asyncio.wait_for(_reached(dsn, heads, started), 900)
        elapsed = time.perf_counter() - started
        machine = (busy_seconds() - busy) / elapsed
        shares = {name: (tree_cpu([pid]) - before[name]) / elapsed for name, pid in servers.items()}
        cpu = []
        for process in processes:
            times = psutil.Process(process.pid).cpu_times()
            cpu.append((times.user + times.system) / elapsed)
        return Curve(count, events / elapsed, cpu, shares, machine, first_commit)
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        postgres.stop()
        server.stop()


async def curve(counts: list[int], events: int) -> list[Curve]:
    with scratch_dir() as home:
        store = await publish_store(home, events)
        return [await catch_up(home, store, count, events) for count in counts]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--counts", default="1,2,4")
    args = parser.parse_args()
    counts = [int(count) for count in args.counts.split(",")]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for point in uvloop.run(curve(counts, args.events)):
        print(point.describe(), flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
