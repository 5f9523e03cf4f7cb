"""`python -m chaos.soak`: a long run at a fixed moderate load with no faults, printing per
minute the throughput, p50/p99 latency, projection lag, open orders, and the RSS and open
file descriptors of every process; then the verdict on drift (RSS growth per hour, p99
growth). `--target up` (default) runs `tally up`; `--target cluster` the chaos run's
deployment (each role in its own process)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time

import httpx

from chaos.sampler import Sampler
from chaos.soak_load import SoakLoad
from chaos.soak_report import Row, cores_between, header, render, row, verdict
from chaos.soak_target import Cluster, TallyUp, Target


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos.soak", description=__doc__)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--orders", type=float, default=100.0, help="orders per second")
    parser.add_argument("--receives", type=float, default=30.0, help="receipts per second")
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--units", type=int, default=7, help="units per receipt")
    parser.add_argument(
        "--ship-after",
        type=float,
        default=None,
        help="ship each order this many seconds after placing it (default: never, so "
        "confirmed orders stay open and hold their stock)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="minutes left out of the drift")
    parser.add_argument("--target", choices=("up", "cluster"), default="up")
    return parser.parse_args(argv)


async def lag(base_url: str) -> int:
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        async with httpx.AsyncClient(timeout=10) as client:
            items = (await client.get(f"{base_url}/projections")).json()["items"]
            return sum(int(item["lag"]) for item in items)
    return -1


async def soak(args: argparse.Namespace, target: Target) -> list[Row]:
    load = SoakLoad(
        args.base_url, args.orders, args.receives, args.skus, args.ship_after, args.units
    )
    sampler = Sampler(target.pids)
    stop = asyncio.Event()
    running = asyncio.create_task(load.run(stop))
    ended = asyncio.Event()  # SIGINT or SIGTERM: the verdict on the minutes so far
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, ended.set)
    rows: list[Row] = []
    names: list[str] = []
    before, taken_at = sampler.sample(-1), time.monotonic()  # CPU from the load's start
    for minute in range(args.minutes):
        with contextlib.suppress(TimeoutError):
            wait = max(0.0, load.started + 60 * (minute + 1) - time.monotonic())
            await asyncio.wait_for(ended.wait(), wait)
        if ended.is_set():
            break
        memory = sampler.sample(minute)
        cores = cores_between(before, memory, time.monotonic() - taken_at)
        before, taken_at = memory, time.monotonic()
        names = names or sorted(memory)
        placed = sum(m.placed for m in load.minutes.values())
        shipped = sum(m.shipped for m in load.minutes.values())
        figures, behind = load.minutes[minute], await lag(args.base_url)
        load_now = os.getloadavg()[0]
        rows.append(row(minute, figures, behind, placed - shipped, memory, load_now, cores))
        if minute == 0:
            print(header(names), flush=True)
        print(render(rows[-1], names), flush=True)
    stop.set()
    await running
    for line in verdict(rows, names, args.warmup) if rows else []:
        print(line, flush=True)
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    target: Target = TallyUp() if args.target == "up" else Cluster()
    print(
        f"soak: {args.minutes} min against {args.target}, {args.orders:g} orders/s + "
        f"{args.receives:g} receipts/s over {args.skus} SKUs, ship after {args.ship_after}",
        flush=True,
    )
    target.start()
    try:
        args.base_url = target.base_url
        asyncio.run(soak(args, target))
    finally:
        target.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
