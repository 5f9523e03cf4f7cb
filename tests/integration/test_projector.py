"""The projector against real NATS and PostgreSQL: exactly once, poison events, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client as NATS
from support.read_side import (
    connect,
    order_history,
    projecting,
    publish,
    ready_streams,
    rows,
    view_rows,
    wait_position,
)

from tally.roles.database import run_alembic

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await connect(nats_url)
    await ready_streams(client)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def db(database_url: str) -> str:
    await run_alembic(database_url)
    return database_url


async def test_projects_orders_and_stock(nc: NATS, db: str) -> None:
    items = order_history(12)
    await publish(nc, items)
    info = {s: (await nc.jetstream().stream_info(s)).state.last_seq for s in ("ORDERS", "STOCK")}
    async with projecting(nc, db, "orders", "stock"):
        await wait_position(db, "orders", info["ORDERS"])
        await wait_position(db, "stock", info["STOCK"])
    view = await view_rows(db)
    assert len(view["orders"]) == 12
    statuses = sorted({row[2] for row in view["orders"]})
    assert statuses == ["cancelled", "confirmed", "pending", "rejected"]
    stock = {row[0]: row for row in view["stock_items"]}
    assert sum(row[1] for row in stock.values()) == sum(10 + i for i in range(12))
    assert sum(row[2] for row in stock.values()) == 12
    assert sum(row[3] for row in stock.values()) == 24
    versions = [row[8] for row in view["orders"]]
    assert sorted(versions) == [1, 1, 1] + [2] * 9
