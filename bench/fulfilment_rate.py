"""Orders confirmed per second, end to end: wrk POSTs 2-line orders over 100 SKUs to
`tally api`; `tally fulfil` (1 or more processes, on one durable consumer) reserves, takes
the simulated payment and confirms. The figure is confirmed orders / (last confirmation -
first placement), read from the ORDERS stream live; the lag is placement -> confirmation by
JetStream timestamps. Besides: the fulfilment processes' CPU (user + system, from /proc)
per confirmed order, their socket reads and writes and wake-ups (voluntary context
switches: each is a wait for the socket that blocked) per confirmed order, and the stock
conflicts they met (their metrics) per confirmed order.

    .venv/bin/python -m bench.fulfilment_rate [--runs 3] [--seconds 10] [--connections 32]
        [--fulfil 1 2] [--drain] [--rate ORDERS_PER_S]

`--drain`: the fulfilment processes are stopped (SIGSTOP) while wrk places the orders and
resumed afterwards: fulfilment alone, from its first decision to its last.
`--rate`: an open loop places that many orders a second instead of wrk's closed loop
(`chaos/soak_load.py`, orders over the SOAK-* SKUs, stocked here too): below fulfilment's
capacity, the placed -> confirmed lag is what a user waits, not an 8 s burst's backlog.
"""

import argparse
import asyncio
import os
import subprocess
import time
from dataclasses import astuple, dataclass
from pathlib import Path

import httpx
import nats
import psutil
import uvloop
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from bench.fulfilment_probe import counted
from bench.harness import VENV_BIN, Figure, port, print_table, process, scratch_dir, wrk
from bench.orders_decided import DECISIONS, Decided
from chaos.soak_load import SoakLoad
from events.base import Event
from events.envelope import Envelope
from events.stock import StockReceived, StockReservationReleased, StockReserved
from tally.embedded.nats_server import EmbeddedNats
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.stock import ReserveStock
from write_side.event_store import JetStreamEventStore
from write_side.key_value import JetStreamKeyValue
from write_side.ports import PendingEvent
from write_side.snapshots import BUCKET, Snapshots

SKUS = 100
PLACE = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local a = math.random(1, {SKUS})
  local b = math.random(1, {SKUS - 1})
  if b >= a then b = b + 1 end
  local body = '{{"customer_id":"bench","lines":[' ..
    '{{"sku":"SKU-' .. a .. '","quantity":1,"unit_price":"1.00"}},' ..
    '{{"sku":"SKU-' .. b .. '","quantity":1,"unit_price":"2.50"}}]}}'
  return wrk.format(nil, "/orders", nil, body)
end
"""


class Watch(Decided):
    """Placements and decisions on ORDERS counted as they are stored (live), with this
    process's clock at the first placement, the first and the last decision (the rate
    while it runs), and what the fulfilment processes spent meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.started = self.first_decided = self.ended = 0.0  # time.monotonic()
        self.cpu_seconds = 0.0  # of the fulfilment processes, when the bench knows them
        self.usage = Usage()  # the same, by kind, with their read and write syscalls
        self.conflicts = 0.0

    async def on_message(self, msg: Msg) -> None:
        kind = self.add_message(msg)
        now = time.monotonic()
        if kind == "OrderPlaced":
            self.started = self.started or now
        elif kind in DECISIONS:
            self.ended = now
            self.first_decided = self.first_decided or now


@dataclass(frozen=True)
class Usage:
    """CPU seconds (user, system), read/write syscalls (socket reads and writes on Linux:
    `syscr`, `syscw`) and voluntary context switches (the event loop's blocking waits) of
    the fulfilment processes together."""

    user: float = 0.0
    system: float = 0.0
    reads: int = 0
    writes: int = 0
    wakeups: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: "Usage") -> "Usage":
        return Usage(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))


class Workers:
    """The `tally fulfil` processes, each with its metrics on a port of its own; several
    are started as the shards of one another (`TALLY_FULFIL_SHARD=i/count`: each SKU's
    stock commands done by its owner) unless the environment sets the shard itself (e.g.
    `TALLY_FULFIL_SHARD=0/1`: every process on its own, racing)."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.count, self.env = count, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []

    def start(self) -> None:
        tally = str(VENV_BIN / "tally")
        self.ports = [port() for _ in range(self.count)]
        self.procs = [
            subprocess.Popen(
                [tally, "fulfil"],
                env={
                    "TALLY_FULFIL_SHARD": f"{index}/{self.count}",
                    **self.env,
                    "TALLY_METRICS_PORT": str(p),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for index, p in enumerate(self.ports)
        ]
        deadline = time.monotonic() + 60
        while not all(self._scrape(p) is not None for p in self.ports):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise RuntimeError("tally fulfil did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(30)
        self.procs = []

    def pause(self) -> None:
        for proc in self.procs:
            psutil.Process(proc.pid).suspend()

    def resume(self) -> None:
        for proc in self.procs:
            psutil.Process(proc.pid).resume()

    def usage(self) -> Usage:
        total = Usage()
        for proc in self.procs:
            process = psutil.Process(proc.pid)
            times, io = process.cpu_times(), process.io_counters()
            switches = process.num_ctx_switches().voluntary
            total += Usage(times.user, times.system, io.read_count, io.write_count, switches)
        return total

    def conflicts(self) -> float:
        return sum(self._scrape(p) or 0.0 for p in self.ports)

    @staticmethod
    def _scrape(metrics_port: int) -> float | None:
        """Conflicts counted by one process (all streams), None while it does not answer."""
        try:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
        except httpx.HTTPError:
            return None
        return counted(text).get("tally_concurrency_conflicts_total", 0.0)


async def measure(
    nats_url: str,
    api: str,
    seconds: int,
    connections: int,
    drain: Workers | None,
    *,
    workers: Workers | None = None,
    rate: float | None = None,
) -> tuple[float, Watch]:
    """Orders placed by wrk while fulfilment runs; with `drain`, fulfilment is paused until
    wrk is done, and the rate is from its first decision to its last. With `workers` (or
    `drain`), their CPU and conflicts over the measure go into the watch."""
    workers = workers or drain
    nc = await nats.connect(nats_url)
    watch = Watch()
    js = nc.jetstream()
    subscription = await js.subscribe(
        "orders.*", cb=watch.on_message, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    usage = workers.usage() if workers else Usage()
    conflicts = await asyncio.to_thread(workers.conflicts) if workers else 0.0
    if drain is not None:
        drain.pause()
    if rate is None:
        requests = await asyncio.to_thread(
            wrk, api, PLACE, seconds=seconds, connections=connections
        )
    else:
        requests = await open_loop(api, rate, seconds)
    placed = round(requests * seconds)
    if drain is not None:
        drain.resume()
    deadline = time.monotonic() + 300
    while watch.confirmed + watch.rejected < len(watch.placed) or len(watch.placed) < placed * 0.9:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not settled: {watch.confirmed} of {len(watch.placed)}")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    if workers is not None:
        watch.usage = workers.usage() - usage
        watch.cpu_seconds = watch.usage.user + watch.usage.system
        watch.conflicts = await asyncio.to_thread(workers.conflicts) - conflicts
    if drain is not None:
        watch.started = watch.first_decided
    await subscription.unsubscribe()
    await nc.close()
    return requests, watch


async def open_loop(api: str, rate: float, seconds: int) -> float:
    """Orders placed at `rate` a second for `seconds`, whatever the answers; the rate
    placed (2xx answers a second)."""
    load = SoakLoad(api, orders_per_s=rate, receives_per_s=0)
    stop = asyncio.Event()
    running = asyncio.create_task(load.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await running
    return sum(minute.placed for minute in load.minutes.values()) / seconds


COLD_EVENTS = 100_000


async def cold_start(nats_url: str, runs: int) -> tuple[Figure, Figure]:
    """A stock item with COLD_EVENTS events (a receipt, then reservations and releases);
    the first command of a process that has never seen it (an empty cache), with and
    without the snapshot a warm process wrote."""
    without = Figure(f"cold start, {COLD_EVENTS:,} events, first command", "ms")
    with_snapshot = Figure(f"cold start, {COLD_EVENTS:,} events, from a snapshot", "ms")
    nc = await nats.connect(nats_url)
    store = JetStreamEventStore(nc, timeout=30.0)
    bucket = JetStreamKeyValue(await nc.jetstream().key_value(BUCKET), BUCKET)
    events: list[Event] = [StockReceived(quantity=10**6)]
    for n in range(1, COLD_EVENTS, 2):
        events.append(StockReserved(order_id=f"o{n}", quantity=1))
        events.append(StockReservationReleased(order_id=f"o{n}", quantity=1))
    last = 0
    for start in range(0, len(events), 1000):
        batch = [PendingEvent(event, Envelope()) for event in events[start : start + 1000]]
        last = (await store.append("stock.COLD-1", batch, last)).last_seq
    warm = Snapshots(bucket, store, every=1000)
    await CommandService(store, max_attempts=10, snapshots=warm).load(STOCK_ITEM, "COLD-1")
    await warm.flush()
    for run in range(runs):
        for figure, snapshots in (
            (without, None),
            (with_snapshot, Snapshots(bucket, store, every=10**6)),
        ):
            service = CommandService(store, max_attempts=10, snapshots=snapshots)
            started = time.perf_counter()
            command = ReserveStock(f"cold-{run}-{len(figure.runs)}", 1)
            await service.handle(STOCK_ITEM, "COLD-1", command, Metadata("bench"))
            figure.runs.append((time.perf_counter() - started) * 1000)
    await nc.close()
    return without, with_snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--fulfil", type=int, nargs="+", default=[1, 2], help="tally fulfil processes"
    )
    parser.add_argument(
        "--drain", action="store_true", help="place first, then fulfil (fulfilment alone)"
    )
    parser.add_argument(
        "--cold-start", action="store_true", help="only the cold-start rows (snapshots)"
    )
    parser.add_argument(
        "--rate", type=float, help="orders/s placed by an open loop instead of wrk's burst"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/fulfilment_rate.json"))
    args = parser.parse_args()
    what = "drained" if args.drain else "e2e"
    if args.rate is not None:
        what = f"open loop {args.rate:g}/s"
    rows: list[tuple[Figure, Figure | None]] = []
    with scratch_dir() as home:
        server = EmbeddedNats(home / "nats")
        server.start()
        env = {
            **os.environ,
            "NATS_URL": server.url,
            "TALLY_LOG_LEVEL": "warning",
            # A backlog must not turn into payment_unavailable rejections: this measures
            # throughput, not the deadline.
            "TALLY_PAYMENT_DEADLINE_SECONDS": "3600",
        }
        env.pop("DATABASE_URL", None)
        subprocess.run([str(VENV_BIN / "tally"), "migrate"], env=env, check=True)
        if args.cold_start:
            rows += [(f, None) for f in uvloop.run(cold_start(server.url, args.runs))]
            server.stop()
            print_table(rows, args.out)
            return
        api_port = port()
        api = f"http://127.0.0.1:{api_port}"
        try:
            with process([str(VENV_BIN / "tally"), "api", "--port", str(api_port)], env, api):
                for sku in range(1, SKUS + 1):
                    for name in (f"SKU-{sku}", f"SOAK-{sku - 1}"):  # wrk's, the open loop's
                        answer = httpx.post(f"{api}/stock/{name}/receive", json={"quantity": 10**8})
                        answer.raise_for_status()
                for count in args.fulfil:
                    rows += run_with(count, what, api, server.url, env, args)
        finally:
            server.stop()
    print_table(rows, args.out)


def run_with(
    count: int, what: str, api: str, nats_url: str, env: dict[str, str], args: argparse.Namespace
) -> list[tuple[Figure, Figure | None]]:
    label = f"{count} fulfil, {what}"
    confirmed = Figure(f"orders confirmed/s, {label}", "orders/s")
    cpu = Figure(f"fulfil CPU per confirmed order, {label}", "us")
    conflicts = Figure(f"conflicts per confirmed order x1000, {label}", "")
    p50 = Figure(f"placed -> confirmed p50, {label}", "ms")
    p99 = Figure(f"placed -> confirmed p99, {label}", "ms")
    accepted = Figure(f"POST /orders accepted, {args.connections} conns, {label}", "req/s")
    system = Figure(f"fulfil system CPU per confirmed order, {label}", "us")
    writes = Figure(f"fulfil socket writes per confirmed order x100, {label}", "")
    reads = Figure(f"fulfil socket reads per confirmed order x100, {label}", "")
    wakeups = Figure(f"fulfil wake-ups per confirmed order x100, {label}", "")
    workers = Workers(count, env)
    workers.start()
    try:
        for _ in range(args.runs):
            rate, watch = uvloop.run(
                measure(
                    nats_url,
                    api,
                    args.seconds,
                    args.connections,
                    workers if args.drain else None,
                    workers=workers,
                    rate=args.rate,
                )
            )
            accepted.runs.append(rate)
            confirmed.runs.append(watch.confirmed / (watch.ended - watch.started))
            done = max(watch.confirmed, 1)
            cpu.runs.append(watch.cpu_seconds / done * 1e6)
            system.runs.append(watch.usage.system / done * 1e6)
            writes.runs.append(watch.usage.writes / done * 100)
            reads.runs.append(watch.usage.reads / done * 100)
            wakeups.runs.append(watch.usage.wakeups / done * 100)
            conflicts.runs.append(watch.conflicts / max(watch.confirmed, 1) * 1000)
            p50.runs.append(watch.lag(0.5) * 1000)
            p99.runs.append(watch.lag(0.99) * 1000)
            print(
                f"run ({label}): {watch.confirmed} confirmed, {watch.rejected} rejected, "
                f"{watch.cpu_seconds:.2f} s CPU ({watch.usage.system:.2f} system), "
                f"{watch.usage.writes} writes, {watch.usage.reads} reads, "
                f"{watch.usage.wakeups} wake-ups, "
                f"{watch.conflicts:.0f} conflicts, "
                f"lag p50 {watch.lag(0.5):.3f} s, p99 {watch.lag(0.99):.3f} s",
                flush=True,
            )
    finally:
        workers.stop()
    return [
        (confirmed, None),
        (cpu, None),
        (system, None),
        (writes, None),
        (reads, None),
        (wakeups, None),
        (conflicts, None),
        (p50, None),
        (p99, None),
        (accepted, None),
    ]


if __name__ == "__main__":
    main()
