"""Scenario 1: `tally project` SIGKILLed 10 times while catching up on >= 20k events and
restarted each time; the views equal the test's own fold of the streams, the checkpoints
never go backwards and every event is counted once."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from support.fault_report import FaultReport
from support.projector_faults import CheckpointWatch, history, publish, until
from support.read_side import connect
from support.roles import Role, migrate, role_env
from support.stream_fold import (
    audit_counters,
    checkpoints,
    differences,
    fold_orders,
    fold_stock,
    incomplete,
    read_stream,
    view_orders,
    view_stock,
)

pytestmark = pytest.mark.faults
KILLS = 10


async def test_projector_killed_ten_times_while_catching_up(
    nats_url: str, database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    rng = random.Random(7)
    env = role_env(nats_url, database_url, TALLY_PROJECTOR_BATCH_SIZE="250")
    await asyncio.to_thread(migrate, env)
    nc = await connect(nats_url)
    projector = Role(["project", "orders", "stock"], env, tmp_path / "project.log")
    watch, stop = CheckpointWatch(database_url), asyncio.Event()
    watcher = asyncio.create_task(watch.run(stop))
    try:
        published = await publish(nc, history(5_400, rng))
        report.note(f"published {published} events on ORDERS and STOCK")
        for kill in range(1, KILLS + 1):
            if published - watch.total < 3_000:  # keep it catching up at every kill
                published += await publish(nc, history(600, rng))
            before = sum((await checkpoints(database_url)).values())
            projector.start()
            waited = await until(watch.beyond(before), 60, "projector restart")
            report.recovered(waited, f"restart {kill}: applying again")
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            projector.kill()
            report.fault(f"SIGKILL {kill} at checkpoints {watch.latest} of {published}")
        projector.start()
        started = time.monotonic()
        await until(watch.beyond(published - 1), 120, "catching up after the kills")
        report.recovered(time.monotonic() - started, "last start: caught up")
        projector.stop()
    finally:
        stop.set()
        await watcher
        projector.kill()
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
    report.figure("events", published)
    report.figure("checkpoint_samples", watch.samples)
    report.figure("lost", published - applied if applied < published else 0)
    report.figure("doubled", applied - published if applied > published else 0)
    report.note(f"views equal the fold: {len(actual_orders)} orders, {len(actual_stock)} SKUs")
