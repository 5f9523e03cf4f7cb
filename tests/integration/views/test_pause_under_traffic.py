"""A view paused while its events keep coming: the projector, whose batches' transactions
stand for its pause reads while they find the view running (`projections.pause`), still
stops within a second or so of the pause, pulls nothing while paused, and catches up once
resumed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from support.read_side import placed, position, projecting, publish, wait_position
from tally.operator.pauses import set_paused

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def orders_coming(nc: NATS) -> AsyncIterator[list[int]]:
    """A new order every 10 ms until the block ends; the last sequence published."""
    last = [0]

    async def keep_publishing() -> None:
        while True:
            last[0] = await publish(nc, [(f"orders.{uuid4()}", placed())])
            await asyncio.sleep(0.01)

    task = asyncio.create_task(keep_publishing())
    try:
        yield last
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _set_paused(db: str, paused: bool) -> None:
    conn = await asyncpg.connect(db)
    try:
        await set_paused(conn, "orders", paused)
    finally:
        await conn.close()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 (other tasks and processes move it)
            await asyncio.sleep(0.02)


async def test_a_projector_under_traffic_stops_when_paused(nc: NATS, db: str) -> None:
    async with projecting(nc, db, "orders") as (projector,), orders_coming(nc) as last:

        async def at(least: int) -> bool:
            return await position(db, "orders") >= least

        async def paused() -> bool:
            return projector.pause.paused

        await _until(lambda: at(20), 15)  # lone batches, one after another
        await _set_paused(db, True)
        await _until(paused, 5)
        stood = await position(db, "orders")
        await asyncio.sleep(1.0)
        assert await position(db, "orders") == stood  # nothing pulled while paused
        assert last[0] > stood + 20  # while the orders kept coming
        await _set_paused(db, False)
        await _until(lambda: at(last[0] - 5), 15)  # caught up, while they keep coming
    await wait_position(db, "orders", last[0])
