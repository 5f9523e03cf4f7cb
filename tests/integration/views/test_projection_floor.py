"""The bench's catch-up floor (bench.projection_floor) writes the rows the real projector
writes for the same events, with headers and without (but for the times and sequences of
the copy it then reads), and its comparison tells a wrong row: a floor that writes the
wrong rows is no floor."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from bench import projection_raw, stream_rows
from bench.projection_floor import differences, floor_catch_up
from events.orders import OrderCancelled
from support.read_side import projecting, publish, wait_position
from support.servers import PostgresServer, create_database, drop_database, unique_database_name
from tally.embedded import with_database
from tally.roles.database import run_alembic

pytestmark = pytest.mark.integration

EVENTS = 1200  # 600 orders placed then confirmed; 1,200 stock moves over 1,000 SKUs
BATCH = 300  # several write batches, one waiting while one is written


@pytest.fixture
async def floor_db(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A second database, migrated by the project's migrations: the floor's."""
    name = unique_database_name("t_floor")
    await create_database(postgres_server.url, name)
    url = with_database(postgres_server.url, name)
    try:
        await run_alembic(url)
        yield url
    finally:
        await drop_database(postgres_server.url, name)


async def projected(nc: NATS, db: str) -> None:
    """The bench's events published and folded by the real projectors."""
    await stream_rows.publish_orders(nc, EVENTS)
    await stream_rows.publish_stock(nc, EVENTS)
    async with projecting(nc, db, "orders", "stock"):
        await wait_position(db, "orders", EVENTS)
        await wait_position(db, "stock", EVENTS)


async def test_the_floor_writes_the_projectors_rows(nc: NATS, db: str, floor_db: str) -> None:
    await projected(nc, db)
    for view, stream in (("orders", "ORDERS"), ("stock", "STOCK")):
        rate = await floor_catch_up(nc, floor_db, stream, view, EVENTS, batch_size=BATCH)
        assert rate > 0
        assert await differences(floor_db, db, view) == ""
        await projection_raw.copy_without_headers(nc, stream, keyed=True, last=EVENTS)
        keyed = projection_raw.keyed_stream(stream)
        await floor_catch_up(nc, floor_db, keyed, view, EVENTS, headers=False, batch_size=BATCH)
        assert await differences(floor_db, db, view, exact=False) == ""
        assert await differences(floor_db, db, view) != ""  # the stored times, not the events'
    conn = await asyncpg.connect(floor_db)
    try:
        position = await conn.fetchval(
            "SELECT position FROM projection_checkpoints WHERE name = 'floor-stock'"
        )
        assert position == EVENTS
    finally:
        await conn.close()


async def test_a_wrong_row_of_the_floor_is_told(nc: NATS, db: str, floor_db: str) -> None:
    await projected(nc, db)
    for view, stream in (("orders", "ORDERS"), ("stock", "STOCK")):
        await floor_catch_up(nc, floor_db, stream, view, EVENTS, batch_size=BATCH)
    conn = await asyncpg.connect(floor_db)
    try:
        await conn.execute("UPDATE stock_items SET reserved = reserved + 1 WHERE sku = 'SKU-7'")
        await conn.execute(
            "UPDATE orders SET status = 'pending'"
            " WHERE order_id = (SELECT min(order_id::text)::uuid FROM orders)"
        )
    finally:
        await conn.close()
    wrong = await differences(floor_db, db, "stock")
    assert wrong.startswith("1 of 1000 stock rows differ"), wrong
    wrong = await differences(floor_db, db, "orders")
    assert wrong.startswith("1 of 600 orders rows differ"), wrong


async def test_an_event_the_floor_does_not_fold_fails_its_run(
    nc: NATS, db: str, floor_db: str
) -> None:
    await stream_rows.publish_orders(nc, 10)
    await publish(nc, [("orders.0b9d5ef0-7c43-4a4f-9c1e-1b5b3c0c2a11", OrderCancelled())])
    with pytest.raises(ValueError, match="not OrderCancelled"):
        await floor_catch_up(nc, floor_db, "ORDERS", "orders", 11)
