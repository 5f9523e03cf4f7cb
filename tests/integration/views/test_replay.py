"""Replay: a view rebuilt from sequence 1 equals the live one, row for row; stopping a
replay before its swap leaves the old view as it was."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from events.codec import encode
from events.stock import StockReceived
from projections.registry import get_projection
from projections.replay import Replay, ReplayStopped
from support.read_side import (
    envelope,
    order_history,
    placed,
    projecting,
    publish,
    rows,
    view_rows,
    wait_position,
)
from support.stream_fold import audit_counters, incomplete

pytestmark = pytest.mark.integration


async def _last(nc: NATS, stream: str) -> int:
    return int((await nc.jetstream().stream_info(stream)).state.last_seq)


async def test_live_projection_equals_replay(nc: NATS, db: str) -> None:
    await publish(nc, order_history(40))
    data, headers = encode(StockReceived(quantity=1), envelope(999))
    await nc.jetstream().publish(f"orders.{uuid4()}", data, headers=headers)  # poison
    await publish(nc, order_history(5), start=1000)
    async with projecting(nc, db, "orders", "stock"):
        await wait_position(db, "orders", await _last(nc, "ORDERS"))
        await wait_position(db, "stock", await _last(nc, "STOCK"))
        live = await view_rows(db)
        counted = await audit_counters(db)  # the poison on ORDERS counted dead
        assert incomplete(counted) == {} and counted["orders"][1:3] == (1, 0), counted

        for name in ("orders", "stock"):
            result = await Replay(get_projection(name), nc, db, batch_size=16).run()
            assert result.position == await _last(nc, get_projection(name).stream)
        assert await view_rows(db) == live  # byte for byte: same rows, same values
        assert await audit_counters(db) == counted  # the swap counted the rebuild alike

        # the live projector goes on from the new checkpoint
        order_id = uuid4()
        seq = await publish(nc, [(f"orders.{order_id}", placed("zoe"))], start=2000)
        await wait_position(db, "orders", seq)
    after = await rows(db, "orders", "order_id")
    assert len(after) == len(live["orders"]) + 1
    conn = await asyncpg.connect(db)
    try:
        schemas = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'replay_%'")
        states = await conn.fetch("SELECT DISTINCT state FROM projection_checkpoints")
    finally:
        await conn.close()
    assert schemas == [] and [row["state"] for row in states] == ["live"]


async def test_stopped_replay_leaves_the_old_view(nc: NATS, db: str) -> None:
    await publish(nc, order_history(30))
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc, "ORDERS"))
        before = await view_rows(db)
        stop = asyncio.Event()
        replay = Replay(
            get_projection("orders"),
            nc,
            db,
            batch_size=5,
            stop=stop,
            progress=lambda done, total: stop.set(),
        )
        with pytest.raises(ReplayStopped):
            await replay.run()
        assert await view_rows(db) == before
    conn = await asyncpg.connect(db)
    try:
        assert await conn.fetchval("SELECT to_regnamespace('replay_orders')") is None
        state = await conn.fetchval("SELECT state FROM projection_checkpoints")
    finally:
        await conn.close()
    assert state == "live"


async def test_swap_waits_for_readers_without_deadlock(nc: NATS, db: str) -> None:
    await publish(nc, order_history(6))
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc, "ORDERS"))
        live = await view_rows(db)
        reader = await asyncpg.connect(db)
        try:
            reading = reader.transaction()
            await reading.start()  # a query in flight: parent table first, as the API does
            await reader.fetch("SELECT * FROM orders")
            replay = asyncio.create_task(Replay(get_projection("orders"), nc, db).run())
            await asyncio.sleep(1.5)  # the swap now waits for the reader's lock on orders
            assert not replay.done()
            rows = await reader.fetch("SELECT * FROM orders")  # must not deadlock
            await reading.commit()
            await asyncio.wait_for(replay, 10)
        finally:
            await reader.close()
    assert len(rows) == len(live["orders"])
    assert await view_rows(db) == live


async def _set_state(db: str, state: str) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("UPDATE projection_checkpoints SET state = $1", state)
    finally:
        await conn.close()


async def _state(db: str) -> str:
    conn = await asyncpg.connect(db)
    try:
        return str(await conn.fetchval("SELECT state FROM projection_checkpoints"))
    finally:
        await conn.close()


async def test_a_projector_clears_a_dead_replay_but_not_a_running_one(nc: NATS, db: str) -> None:
    await publish(nc, order_history(3))
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc, "ORDERS"))
    await _set_state(db, "replaying")  # a replay killed before its swap
    holder = await asyncpg.connect(db)  # a replay running: it holds the replay lock
    try:
        await holder.fetchval("SELECT pg_advisory_lock(hashtext('tally.replay.orders'))")
        await publish(nc, order_history(1), start=100)
        async with projecting(nc, db, "orders"):
            await wait_position(db, "orders", await _last(nc, "ORDERS"))
        assert await _state(db) == "replaying"
    finally:
        await holder.close()
    await publish(nc, order_history(1), start=200)
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc, "ORDERS"))
    assert await _state(db) == "live"
