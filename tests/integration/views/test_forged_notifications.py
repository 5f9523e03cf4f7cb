"""A NOTIFY on `tally_projections` is a wake-up hint, never a fact: any database login may
send one (the query API's read-only login included), so a read-your-writes wait ends only
when the projection's checkpoint row says the position is applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from read_side.positions import CHANNEL, ProjectionPositions
from support.db_roles import login_role
from support.query_app import query_client
from tally.database_url import asyncpg_dsn

pytestmark = pytest.mark.integration


@pytest.fixture
async def stranger(db: str) -> AsyncIterator[asyncpg.Connection]:
    """Some other database login: here the query API's own read-only kind."""
    async with login_role(db, "tally_query") as url:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            yield conn
        finally:
            await conn.close()


async def forge(conn: asyncpg.Connection, payload: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)


async def commit_checkpoint(db: str, position: int) -> None:
    """What a projector does: the checkpoint and its notification in one transaction."""
    owner = await asyncpg.connect(asyncpg_dsn(db))
    try:
        async with owner.transaction():
            await owner.execute(
                "INSERT INTO projection_checkpoints (name, stream, position)"
                " VALUES ('orders', 'ORDERS', $1)"
                " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                position,
            )
            await forge(owner, f"orders:ORDERS:{position}")
    finally:
        await owner.close()


async def test_a_forged_notification_does_not_end_the_wait(
    db: str, stranger: asyncpg.Connection
) -> None:
    positions = ProjectionPositions(asyncpg_dsn(db))
    await positions.start()
    reader, reads = await asyncpg.connect(asyncpg_dsn(db)), 0

    async def reread() -> int:
        nonlocal reads
        reads += 1
        return int(await reader.fetchval("SELECT max(position) FROM projection_checkpoints") or 0)

    try:
        async with asyncio.timeout(5):
            while not positions.listening:  # noqa: ASYNC110 (the LISTEN task's own flag)
                await asyncio.sleep(0.01)
        waiting = asyncio.create_task(positions.wait_for("orders", 5, 3.0, reread))
        await asyncio.sleep(0.2)
        for payload in ("orders:ORDERS:5", "orders:ORDERS:99", "orders:5"):
            await forge(stranger, payload)
        await asyncio.sleep(0.5)
        assert not waiting.done(), "a forged notification ended the wait"
        assert positions.known("orders") == 0
        assert reads >= 2  # the hints were checked against the checkpoint row
        await commit_checkpoint(db, 5)
        assert await asyncio.wait_for(waiting, 1) is True
        assert positions.known("orders") == 5
    finally:
        await positions.close()
        await reader.close()


async def test_after_is_not_answered_early_on_a_forged_notification(
    nc: NATS, nats_url: str, db: str, stranger: asyncpg.Connection
) -> None:
    order = f"/orders/{uuid4()}"
    async with query_client(nc, nats_url, db) as client:
        await client.get("/orders", params={"limit": 1})  # the LISTEN connection is up
        answer = asyncio.create_task(client.get(order, params={"after": "ORDERS:3", "wait": 1}))
        await asyncio.sleep(0.3)
        await forge(stranger, "orders:ORDERS:3")
        lagging = await answer
    assert lagging.status_code == 503, lagging.text
    assert lagging.json()["type"].endswith("projection-lagging")
