"""A partitioned view under faults: ORDERS and STOCK in 3 partitions (`TALLY_PARTITIONS=3
tally migrate`), three `tally project --take P` processes and one standby for every
partition (`tally project`); the process holding partition 1 is SIGKILLed mid-batch eight
times while the views catch up, and started again. Afterwards the views equal the test's
own fold of the streams, no partition's checkpoint ever went back, every event is counted
once, and the standby took partition 1 over while its process was down."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from events.subjects import SUBJECT_PREFIX
from support.fault_report import FaultReport
from support.projector_faults import CheckpointWatch, history, publish, until
from support.read_side import connect
from support.roles import Role, migrate, role_env
from support.stream_fold import (
    audit_counters,
    differences,
    fold_orders,
    fold_stock,
    incomplete,
    read_stream,
    view_orders,
    view_stock,
)

pytestmark = pytest.mark.faults
PARTITIONS, KILLS = 3, 8
VICTIM_ROWS = ("orders/1", "stock/1")


def reached(watch: CheckpointWatch, want: dict[str, int]) -> Callable[[], bool]:
    return lambda: all(watch.latest.get(row, 0) >= want[row] for row in VICTIM_ROWS)


async def heads(nats_url: str) -> dict[str, int]:
    """Checkpoint row -> the last sequence of its partition."""
    nc = await connect(nats_url)
    js, found = nc.jetstream(), {}
    try:
        for view, stream in (("orders", "ORDERS"), ("stock", "STOCK")):
            for p in range(PARTITIONS):
                last = await js.get_last_msg(stream, f"{SUBJECT_PREFIX[stream]}.{p}.*")
                found[f"{view}/{p}"] = int(last.seq or 0)
    finally:
        await nc.close()
    return found


async def test_a_partition_killed_mid_batch_loses_and_doubles_nothing(
    nats_url: str, database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    rng = random.Random(11)
    env = role_env(
        nats_url, database_url, TALLY_PROJECTOR_BATCH_SIZE="200", TALLY_PARTITIONS=str(PARTITIONS)
    )
    await asyncio.to_thread(migrate, env)
    nc = await connect(nats_url)
    views = ["project", "orders", "stock"]
    takers = [Role([*views, "--take", str(p)], env, tmp_path / f"p{p}.log") for p in range(3)]
    standby = Role([*views, "--partitions", str(PARTITIONS)], env, tmp_path / "standby.log")
    watch, stop = CheckpointWatch(database_url), asyncio.Event()
    watcher = asyncio.create_task(watch.run(stop))
    victim = takers[1]
    try:
        published = await publish(nc, history(3_000, rng))
        report.note(f"published {published} events on ORDERS and STOCK, {PARTITIONS} partitions")
        for role in takers:
            role.start()
        await until(lambda: len(watch.latest) == 2 * PARTITIONS, 60, "every partition running")
        standby.start()
        for kill in range(1, KILLS + 1):
            published += await publish(nc, history(300, rng))
            if not victim.alive:
                victim.start()
            await asyncio.sleep(rng.uniform(0.05, 0.5))
            victim.kill()
            report.fault(f"SIGKILL {kill} of the process taking partition 1 at {watch.latest}")
            # partition 1 reaches its end after the kill (its checkpoints "moving on" from
            # where they stood after the publish was no test: a standby holding partition 1
            # may have applied all of it before they were read, and then nothing moves)
            want = await heads(nats_url)
            waited = await until(reached(watch, want), 60, "partition 1 at its end after the kill")
            report.recovered(waited, f"kill {kill}: partition 1 caught up (standby or restart)")
        started = time.monotonic()
        want = await heads(nats_url)
        done = lambda: all(watch.latest.get(row, 0) >= seq for row, seq in want.items())  # noqa: E731
        await until(done, 120, "every partition at its end")
        report.recovered(time.monotonic() - started, "all partitions caught up")
    finally:
        stop.set()
        await watcher
        for role in (*takers, standby):
            role.stop()
    orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
    await nc.close()
    assert len(orders.events) + len(stock.events) == published
    expected_orders, (expected_stock, _) = fold_orders(orders.events), fold_stock(stock.events)
    actual_orders, actual_stock = await view_orders(database_url), await view_stock(database_url)
    assert watch.backwards == [], watch.backwards
    assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
    assert actual_stock == expected_stock, differences(expected_stock, actual_stock)
    applied = sum(row[4] for row in actual_orders.values()) + sum(
        row[2] for row in actual_stock.values()
    )
    assert applied == published  # every event counted exactly once
    counters = await audit_counters(database_url)  # the completeness audit holds
    assert incomplete(counters) == {} and sum(row[0] for row in counters.values()) == published
    standby_log = standby.log.read_text(errors="replace")
    assert "standing by" in standby_log  # it waited for partitions others held, and
    assert '"projection": "stock/1"' in standby_log  # took partition 1 over while it was down
    report.figure("events", published)
    report.figure("lost", max(0, published - applied))
    report.figure("doubled", max(0, applied - published))
