"""Partitioned projectors against real NATS and PostgreSQL: each partition of a view with its
own consumer and checkpoint, together the fold of the whole stream, and exactly once per
partition when one of them dies between its commit and its acknowledgement."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from events.base import Event
from events.partitions import Layout, partition_of
from events.subjects import SUBJECT_PREFIX
from projections.audit import audit_row
from projections.base import Projection
from projections.consumers import ensure_view_consumers
from projections.partitions import projectors_of
from projections.registry import get_projection
from projections.replay import Replay, ReplayNotComparable
from projections.runner import Projector
from support.read_side import FAST, order_history, publish
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
from tally.partitioning import restore_consumers, rewrite_partitions
from write_side.streams import StreamSettings, ensure_streams

pytestmark = pytest.mark.integration
PARTITIONS = 3
LAYOUT = Layout({"ORDERS": PARTITIONS, "STOCK": PARTITIONS})


@pytest.fixture
async def partitioned(nc: NATS) -> NATS:
    await ensure_streams(nc.jetstream(), StreamSettings(partitions=PARTITIONS))
    for name in ("orders", "stock"):
        await ensure_view_consumers(nc.jetstream(), get_projection(name), LAYOUT)
    return nc


def partitions(*names: str) -> list[Projection]:
    return [p for name in names for p in projectors_of(get_projection(name), LAYOUT)]


@contextlib.asynccontextmanager
async def running(
    nc: NATS, db: str, chosen: list[Projection], **kw: Any
) -> AsyncIterator[list[Projector]]:
    stop = asyncio.Event()
    projectors = [Projector(projection, nc, db, FAST, **kw) for projection in chosen]
    tasks = [asyncio.create_task(projector.run(stop)) for projector in projectors]
    try:
        yield projectors
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


def covering_partitions(count: int) -> list[tuple[str, Event]]:
    """`order_history(count)` whose orders land in every partition of ORDERS."""
    while True:
        history = order_history(count)
        ids = {subject.split(".")[1] for subject, _ in history if subject.startswith("orders.")}
        if {partition_of(order_id, PARTITIONS) for order_id in ids} == set(range(PARTITIONS)):
            return history


async def heads(nc: NATS) -> dict[str, int]:
    """Checkpoint name -> the last sequence of that partition (partitions that hold some)."""
    js, found = nc.jetstream(), {}
    for name, stream in (("orders", "ORDERS"), ("stock", "STOCK")):
        for partition in range(PARTITIONS):
            with contextlib.suppress(Exception):
                last = await js.get_last_msg(stream, f"{SUBJECT_PREFIX[stream]}.{partition}.*")
                found[f"{name}/{partition}"] = int(last.seq or 0)
    return found


async def caught_up(nc: NATS, db: str, timeout: float = 20) -> None:
    want = await heads(nc)
    async with asyncio.timeout(timeout):
        while True:
            done = await checkpoints(db)
            if all(done.get(key, 0) >= seq for key, seq in want.items()):
                return
            await asyncio.sleep(0.05)


async def assert_views_are_the_fold(nc: NATS, db: str) -> None:
    orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
    expected_orders, (expected_stock, _) = fold_orders(orders.events), fold_stock(stock.events)
    actual_orders, actual_stock = await view_orders(db), await view_stock(db)
    assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
    assert actual_stock == expected_stock, differences(expected_stock, actual_stock)


async def test_partitions_together_fold_the_whole_stream(partitioned: NATS, db: str) -> None:
    await publish(partitioned, order_history(40))
    async with running(partitioned, db, partitions("orders", "stock")):
        await caught_up(partitioned, db)
    names = sorted(await checkpoints(db))
    assert names == sorted(f"{v}/{p}" for v in ("orders", "stock") for p in range(PARTITIONS))
    await assert_views_are_the_fold(partitioned, db)
    counted = await audit_counters(db)  # each partition's own events applied, the rest ignored
    assert incomplete(counted) == {} and sum(row[0] for row in counted.values()) == 40 * 4 - 10
    conn = await asyncpg.connect(db)
    try:  # and JetStream, counting each partition's subjects, agrees
        audits = [
            await audit_row(conn, partitioned.jetstream(), row)
            for row in partitions("orders", "stock")
        ]
    finally:
        await conn.close()
    assert all(audit.ok for audit in audits), [audit.describe() for audit in audits]


class Killed(BaseException):
    """The projector of one partition dies between its commit and its ack."""


async def test_a_partition_killed_between_commit_and_ack_reapplies_nothing(
    partitioned: NATS, db: str
) -> None:
    await publish(partitioned, order_history(30))
    victim, *others = partitions("stock")

    async def die(position: int) -> None:
        raise Killed

    async with (
        running(partitioned, db, others),
        running(partitioned, db, [victim], after_commit=die),
    ):
        await asyncio.sleep(1.0)  # the victim commits one batch and dies unacknowledged
    before = await checkpoints(db)
    assert before.get(victim.name, 0) > 0
    await publish(partitioned, order_history(10), start=100)
    async with running(partitioned, db, partitions("orders", "stock")):
        await caught_up(partitioned, db)
    await assert_views_are_the_fold(partitioned, db)


async def test_replay_rebuilds_every_partition_and_swaps_once(partitioned: NATS, db: str) -> None:
    await publish(partitioned, order_history(30))
    async with running(partitioned, db, partitions("orders", "stock")):
        await caught_up(partitioned, db)
        result = await Replay(get_projection("orders"), partitioned, db, batch_size=7).run()
        marks = await checkpoints(db)
        assert {marks[f"orders/{p}"] for p in range(PARTITIONS)} == {result.position}
        assert incomplete(await audit_counters(db)) == {}
        await publish(partitioned, order_history(10), start=200)
        await caught_up(partitioned, db)
    await assert_views_are_the_fold(partitioned, db)


async def test_check_of_a_partitioned_view_under_appends(partitioned: NATS, db: str) -> None:
    """Partitions stand at different sequences while events arrive: the check brings the
    rebuild to each partition's checkpoint (holding back what follows it) and finds it
    equal; with one partition's projector stopped behind the rebuild, it is not compared."""
    await publish(partitioned, order_history(30))
    async with running(partitioned, db, partitions("orders", "stock")):
        await caught_up(partitioned, db)

        async def append() -> None:
            for round_ in range(1, 20):
                await publish(partitioned, order_history(3), start=1000 * round_)
                await asyncio.sleep(0.02)

        appending = asyncio.create_task(append())
        checked = Replay(get_projection("orders"), partitioned, db, batch_size=5, check=True)
        result = await checked.run()
        await appending
    assert result.comparison is not None and result.comparison.identical, result.comparison
    assert not result.swapped
    others = [p for p in partitions("orders") if not p.name.endswith("/2")]
    async with running(partitioned, db, others):
        # partition 2 falls behind: orders in every partition (random ids missed it 9 %)
        await publish(partitioned, covering_partitions(6), start=50_000)
        lagging = Replay(get_projection("orders"), partitioned, db, check=True, settle=0.5)
        with pytest.raises(ReplayNotComparable):
            await lagging.run()


async def test_a_store_made_before_partitions_migrates_losing_and_repeating_nothing(
    nc: NATS, db: str
) -> None:
    """The views are part-way through the stream (unpartitioned) when `tally migrate`
    rewrites both streams into partitions; the partitioned projectors then finish, and the
    views equal the fold of the streams: nothing lost, nothing applied twice."""
    for name in ("orders", "stock"):
        await ensure_view_consumers(nc.jetstream(), get_projection(name), Layout())
    await publish(nc, order_history(30))
    whole = [get_projection("orders"), get_projection("stock")]
    async with running(nc, db, whole):
        async with asyncio.timeout(20):
            while sum((await checkpoints(db)).values()) == 0:  # noqa: ASYNC110 (PostgreSQL)
                await asyncio.sleep(0.05)
    await publish(nc, order_history(20), start=100)  # the views are behind when migrating
    settings = StreamSettings(partitions=PARTITIONS)
    floors = await rewrite_partitions(nc, db, settings)
    assert set(floors) == {"ORDERS", "STOCK"}
    await ensure_streams(nc.jetstream(), settings)
    for name in ("orders", "stock"):
        await ensure_view_consumers(nc.jetstream(), get_projection(name), LAYOUT)
    await restore_consumers(nc, floors)
    assert sorted(await checkpoints(db)) == sorted(
        f"{v}/{p}" for v in ("orders", "stock") for p in range(PARTITIONS)
    )
    async with running(nc, db, partitions("orders", "stock")):
        await caught_up(nc, db)
    await assert_views_are_the_fold(nc, db)
    assert await rewrite_partitions(nc, db, settings) == {}  # already so: nothing to do
