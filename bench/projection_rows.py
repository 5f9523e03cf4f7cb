"""The projection rows of `python -m bench`: catch-up of the real `tally project` process on
the orders and the stock view, `tally replay`, and their raw baselines from the same run.
The catch-up's floor (bench.projection_floor: the raw read, msgspec, raw `unnest` SQL into
Tally's tables, pipelined) over the same events, beside the catch-up rows.

Baselines (bench.projection_raw): a raw AckAll pull read of the same stream with Tally's
headers and of the same bodies without headers; the projector is measured against the
faster of the two (nats-py's header parsing is a cost Tally may avoid, not a floor). The
replay is measured against a raw ordered-consumer read. The 500-row upsert and COPY rows
show what PostgreSQL alone does with as many rows.
"""

import argparse
import gc
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import nats
import uvloop
from nats.aio.client import Client as NATS

from bench import (
    projection_floor,
    projection_load,
    projection_partitions,
    projection_raw,
    stream_rows,
)
from bench.cluster import Cluster, Role, profiled
from bench.harness import Figure
from bench.report import Row, at_least
from tally.roles.heap import settle_heap

FIGURES = [
    ("catch_up", "orders catch-up (tally project), {events:,} events", "events/s"),
    ("catch_up_stock", "stock catch-up (tally project), {events:,} events", "events/s"),
    ("floor", "catch-up floor (raw read + raw upsert), orders", "events/s"),
    ("floor_stock", "catch-up floor (raw read + raw upsert), stock", "events/s"),
    ("floor_plain", "catch-up floor, orders, bodies without headers", "events/s"),
    ("floor_stock_plain", "catch-up floor, stock, bodies without headers", "events/s"),
    ("replay", "replay orders (tally replay)", "events/s"),
    ("pull", "raw AckAll pull read, ORDERS, six headers", "msgs/s"),
    ("pull_plain", "raw AckAll pull read, ORDERS bodies, no headers", "msgs/s"),
    ("pull_stock", "raw AckAll pull read, STOCK, six headers", "msgs/s"),
    ("pull_stock_plain", "raw AckAll pull read, STOCK bodies, no headers", "msgs/s"),
    ("ordered", "raw ordered-consumer read, ORDERS", "msgs/s"),
    ("upsert", "raw 500-row upsert", "rows/s"),
    ("copy", "raw COPY, 5000 rows/txn", "rows/s"),
    ("partitions_1", "orders catch-up, 1 partition, 1 process", "events/s"),
    ("partitions_2", "orders catch-up, 2 partitions, a process each", "events/s"),
    ("partitions_4", "orders catch-up, 4 partitions, a process each", "events/s"),
]
BASELINES = [
    "pull",
    "pull_plain",
    "pull_stock",
    "pull_stock_plain",
    "ordered",
    "upsert",
    "copy",
    "partitions_1",
    "partitions_4",
]


def add_figures(add: Callable[[str, str, str], None], events: int) -> None:
    for key, name, unit in FIGURES:
        add(key, name.format(events=events), unit)


def faster(*figures: Figure) -> Figure:
    measured = [figure for figure in figures if figure.runs]
    return max(measured, key=lambda figure: figure.median) if measured else figures[0]


def rows(f: dict[str, Figure]) -> list[Row]:
    """The catch-up rows against the faster raw read; the floor's against the same read, with
    the same target (does the floor itself reach it?)."""
    target = "ratio >= 0.60"
    orders_read = faster(f["pull"], f["pull_plain"])
    stock_read = faster(f["pull_stock"], f["pull_stock_plain"])
    return [
        Row(f["catch_up"], (orders_read,), target, at_least(0.6)),
        Row(f["catch_up_stock"], (stock_read,), target, at_least(0.6)),
        *(Row(f[key], (orders_read,), target, at_least(0.6)) for key in ("floor", "floor_plain")),
        *(
            Row(f[key], (stock_read,), target, at_least(0.6))
            for key in ("floor_stock", "floor_stock_plain")
        ),
        Row(f["replay"], (f["ordered"],), "ratio >= 0.50", at_least(0.5)),
        Row(f["partitions_2"], (f["partitions_1"],), "ratio >= 1.30", at_least(1.3)),
    ]


def partition_phase(
    f: dict[str, Figure], args: argparse.Namespace, say: Callable[[str], None]
) -> None:
    """The 1/2/4-partition curve on servers of its own (bench.projection_partitions)."""
    say("the partition curve: 1, 2 and 4 partitions, a process each")
    for point in uvloop.run(projection_partitions.curve([1, 2, 4], args.events)):
        f[f"partitions_{point.partitions}"].runs.append(point.rate)
        say(point.describe())


@contextmanager
def as_tally_replay() -> Iterator[None]:
    """The bench process's collector set as `tally replay` sets its own once started
    (`tally.roles.heap`) while the replay row runs in it, and put back for the rows after."""
    threshold = gc.get_threshold()
    settle_heap()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


async def floor_rows(
    nc: NATS,
    view_dsn: str,
    floor_dsn: str,
    f: dict[str, Figure],
    events: int,
    check: bool,
    watch: Callable[[str], AbstractContextManager[object]] | None,
) -> None:
    """The floor over the last `events` events of ORDERS and of STOCK (the catch-ups'); if
    `check`, its rows compared with the projector's (RuntimeError if any differs). Stock is
    compared only when STOCK holds nothing else: the projector's SKU rows fold every event
    of the stream, the floor's only the last `events`. The floor runs with this process's
    collector set as `tally project` sets its own (the bench's big start-up heap frozen, not
    scanned by every collection, as a process that is only the floor would not have it)."""
    for key, view, stream in (("floor", "orders", "ORDERS"), ("floor_stock", "stock", "STOCK")):
        held = (await nc.jetstream().stream_info(stream)).state.messages
        await projection_raw.copy_without_headers(nc, stream, keyed=True, last=events)
        for headers, read, label in (
            (True, stream, f"{view} floor"),
            (False, projection_raw.keyed_stream(stream), f"{view} floor, no headers"),
        ):
            with as_tally_replay(), watch(label) if watch is not None else nullcontext():
                rate = await projection_floor.floor_catch_up(
                    nc, floor_dsn, read, view, events, headers=headers
                )
            f[key if headers else f"{key}_plain"].runs.append(rate)
            if not check or (view == "stock" and held != events):
                continue
            wrong = await projection_floor.differences(floor_dsn, view_dsn, view, exact=headers)
            if wrong:
                raise RuntimeError(f"{label}: not the projector's rows: {wrong}")
            but = "" if headers else " but for their times and sequences (the copy's)"
            print(f"  {label}: the projector's rows, every one{but}", flush=True)


async def stream_phase(
    cluster: Cluster,
    projector: Role,
    f: dict[str, Figure],
    args: argparse.Namespace,
    say: Callable[[str], None],
    watch: Callable[[str], AbstractContextManager[object]] | None = None,
) -> None:
    """Each run, for each view: the projector paused, `events` events published, resumed
    and timed to the stream's end; then the raw reads, the floor over the same events, the
    replay while it projects. The catch-ups, raw reads and floor run inside `watch(label)`,
    if given (a label as "orders catch-up", "orders floor")."""
    nc = await nats.connect(cluster.nats.url)
    assert cluster.postgres is not None
    floor_dsn = await projection_floor.floor_database(cluster.postgres)
    try:
        for run in range(args.runs):
            say(f"run {run + 1}/{args.runs}: catch-up of the orders and the stock view")
            spy = args.profile if run == 0 else None
            for key, view, publish in (
                ("catch_up", "orders", stream_rows.publish_orders),
                ("catch_up_stock", "stock", stream_rows.publish_stock),
            ):  # one view at a time: the process folds both, they would share its core
                projector.pause()
                await publish(nc, args.events)
                watched = watch(f"{view} catch-up") if watch is not None else nullcontext()
                with watched, profiled(projector.proc.pid, spy, f"project-catch-up-{view}"):
                    rate = await stream_rows.catch_up(nc, cluster.dsn, projector, view)
                f[key].runs.append(rate)
            if run == 0:  # the same bodies without headers, once
                for stream in ("ORDERS", "STOCK"):
                    await projection_raw.copy_without_headers(nc, stream)
            say(f"run {run + 1}/{args.runs}: raw reads")
            for key, stream, label in (
                ("pull", "ORDERS", "orders raw read, six headers"),
                ("pull_plain", "ORDERS_PLAIN", "orders raw read, no headers"),
                ("pull_stock", "STOCK", "stock raw read, six headers"),
                ("pull_stock_plain", "STOCK_PLAIN", "stock raw read, no headers"),
            ):
                with watch(label) if watch is not None else nullcontext():
                    rate = await projection_raw.ackall_read(nc, stream, args.events)
                f[key].runs.append(rate)
            say(f"run {run + 1}/{args.runs}: the catch-up's floor")
            await floor_rows(nc, cluster.dsn, floor_dsn, f, args.events, run == 0, watch)
            f["upsert"].runs.append(await projection_load.raw_upsert(cluster.dsn, args.events))
            say(f"run {run + 1}/{args.runs}: replay")
            with profiled(os.getpid(), spy, "replay"), as_tally_replay():
                rate = await stream_rows.replay(nc, cluster.dsn, "orders", 5000)
            f["replay"].runs.append(rate)
            f["ordered"].runs.append(await projection_raw.ordered_read(nc, "ORDERS"))
            total = (await nc.jetstream().stream_info("ORDERS")).state.last_seq
            f["copy"].runs.append(await stream_rows.raw_copy(cluster.dsn, total))
    finally:
        await nc.close()
