"""The query API's row cache (read_side/row_cache.py) against real NATS and PostgreSQL:
a cached answer goes with the notification of its view's commit (the projector's, a dead
letter's retry); `after=` never answers with an older row than its position, even when the
notification has not arrived; losing the LISTEN connection clears the cache. (A replay's
swap: tests/integration/views/test_partitioned_queries.py.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NATS

from projections.batch import notify_listeners
from projections.registry import get_projection
from support.query_app import query_client
from tally.database_url import asyncpg_dsn

pytestmark = pytest.mark.integration
# what the LISTEN connection asks once it listens (and its cache is on)
LISTENING = "SELECT name, position FROM projection_checkpoints"


async def seed(db: str, order_id: str) -> None:
    """One pending order; the orders view at position 5."""
    conn = await asyncpg.connect(asyncpg_dsn(db))
    try:
        await conn.execute(
            "INSERT INTO orders VALUES ($1, 'ada', 'pending', 'EUR', 25, NULL, now(), now(), 1, 1,"
            """ '[{"sku": "sku-1", "quantity": 2, "unit_price": "12.50"}]');"""
            "INSERT INTO projection_checkpoints (name, stream, position)"
            " VALUES ('orders', 'ORDERS', 5)".replace("$1", f"'{order_id}'")
        )
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def seeded(
    nc: NATS, nats_url: str, db: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str, int]]:
    """The query API over a view holding one pending order, once it listens: (a client,
    the order's id, the backend pid of its LISTEN connection)."""
    order_id = str(uuid4())
    await seed(db, order_id)
    async with query_client(nc, nats_url, db) as client:
        yield client, order_id, await listener_pid(db)


async def commit(db: str, order_id: str, status: str, position: int, *, notify: bool) -> None:
    """The order's new status and the checkpoint in one transaction, as a projector's batch
    commits them; without `notify`, as if its notification had not arrived yet."""
    conn = await asyncpg.connect(asyncpg_dsn(db))
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE orders SET status = $2, version = version + 1 WHERE order_id = $1",
                order_id,
                status,
            )
            await conn.execute(
                "UPDATE projection_checkpoints SET position = $1 WHERE name = 'orders'", position
            )
            if notify:
                await notify_listeners(conn, get_projection("orders"), position)
    finally:
        await conn.close()


async def status(client: httpx.AsyncClient, order_id: str, **params: str) -> str:
    answer = await client.get(f"/orders/{order_id}", params=params)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def eventually(client: httpx.AsyncClient, order_id: str, expected: str) -> None:
    """The notification arrives on its own connection, a moment after the commit."""
    for _ in range(100):
        if await status(client, order_id) == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still not {expected}")


async def test_a_cached_row_goes_with_its_views_notification(
    nc: NATS, nats_url: str, db: str
) -> None:
    async with seeded(nc, nats_url, db) as (client, order_id, _):
        assert await status(client, order_id) == "pending"
        await commit(db, order_id, "confirmed", 6, notify=False)
        assert await status(client, order_id) == "pending"  # cached: nothing said it changed
        await commit(db, order_id, "shipped", 7, notify=True)
        await eventually(client, order_id, "shipped")
        assert await status(client, order_id) == "shipped"  # and cached again


async def test_after_never_answers_an_older_row_than_its_position(
    nc: NATS, nats_url: str, db: str
) -> None:
    async with seeded(nc, nats_url, db) as (client, order_id, _):
        for _ in range(2):  # read, then cached at position 5
            assert await status(client, order_id, after="ORDERS:5") == "pending"
        await commit(db, order_id, "confirmed", 6, notify=False)  # its notification is late
        for _ in range(2):  # first read with the checkpoint, then known applied: plain
            assert await status(client, order_id, after="ORDERS:6") == "confirmed"
        page = await client.get("/orders", params={"after": "ORDERS:6", "customer_id": "ada"})
        assert [item["status"] for item in page.json()["items"]] == ["confirmed"]


async def test_a_plain_get_never_goes_back_behind_an_after_read(
    nc: NATS, nats_url: str, db: str
) -> None:
    """A client that saw a commit through `after=` is not answered the row as it was before
    it by its next plain GET, though the commit's notification has not arrived yet."""
    async with seeded(nc, nats_url, db) as (client, order_id, _):
        for _ in range(2):  # read, then cached at position 5
            assert await status(client, order_id) == "pending"
        await commit(db, order_id, "confirmed", 6, notify=False)  # its notification is late
        assert await status(client, order_id, after="ORDERS:6") == "confirmed"
        assert await status(client, order_id) == "confirmed"


async def listener_pid(db: str, other_than: int | None = None) -> int:
    """The backend of the API's LISTEN connection once it listens (waiting for a new one
    after a loss)."""
    conn = await asyncpg.connect(asyncpg_dsn(db))
    try:
        for _ in range(250):
            pid = await conn.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> $2",
                LISTENING,
                other_than or 0,
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    raise AssertionError("no LISTEN connection")


async def test_a_lost_notification_connection_clears_the_cache(
    nc: NATS, nats_url: str, db: str
) -> None:
    async with seeded(nc, nats_url, db) as (client, order_id, lost):
        assert await status(client, order_id) == "pending"  # cached
        conn = await asyncpg.connect(asyncpg_dsn(db))
        try:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", lost)
        finally:
            await conn.close()
        # committed while nobody listens: its notification is lost with the connection
        await commit(db, order_id, "confirmed", 6, notify=True)
        await listener_pid(db, other_than=lost)  # listening again
        assert await status(client, order_id) == "confirmed"


async def rewind(db: str, order_id: str) -> None:
    """The order and the checkpoint as they were before `commit(..., 6)`: what a PostgreSQL
    crash does to a projector's last commit made without waiting for the WAL flush
    (TALLY_PROJECTION_SYNCHRONOUS_COMMIT=off); nobody is notified of it."""
    conn = await asyncpg.connect(asyncpg_dsn(db))
    try:
        await conn.execute(
            "UPDATE orders SET status = 'pending' WHERE order_id = $1;"
            "UPDATE projection_checkpoints SET position = 5 WHERE name = 'orders'".replace(
                "$1", f"'{order_id}'"
            )
        )
    finally:
        await conn.close()


async def terminate(db: str, pid: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(db))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_positions_learned_before_a_lost_notification_connection_are_read_again(
    nc: NATS, nats_url: str, db: str
) -> None:
    """After a lost LISTEN connection (a PostgreSQL restart) the API trusts no position and
    no answer it read before: `after=` waits for the checkpoint as it is now."""
    async with seeded(nc, nats_url, db) as (client, order_id, lost):
        await commit(db, order_id, "confirmed", 6, notify=True)
        for _ in range(2):  # read with the checkpoint, then known applied (and cached)
            assert await status(client, order_id, after="ORDERS:6") == "confirmed"
        await rewind(db, order_id)  # the commit at 6 lost by a crash
        await terminate(db, lost)
        await listener_pid(db, other_than=lost)  # listening again
        params = {"after": "ORDERS:6", "wait": "0.2"}
        answer = await client.get(f"/orders/{order_id}", params=params)
        assert answer.status_code == 503, answer.text  # not the row older than its position
        assert "ORDERS:5" in answer.json()["detail"]
        await commit(db, order_id, "confirmed", 6, notify=True)  # projected again
        assert await status(client, order_id, after="ORDERS:6") == "confirmed"
