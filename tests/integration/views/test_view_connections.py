"""The query routes' connections on a real PostgreSQL: never more than their size, a
connection the server killed is noticed by the next statement and that statement retried
once on a new connection, and a server that is gone is `ViewsUnavailable` within the
timeout."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from read_side.errors import ViewsUnavailable
from read_side.views import ViewReader
from tally.database_url import asyncpg_dsn

pytestmark = pytest.mark.integration
NAME = "tally-test-views"


def reader(db: str, size: int = 3) -> ViewReader:
    dsn = asyncpg_dsn(db)
    separator = "&" if "?" in dsn else "?"
    return ViewReader.open(f"{dsn}{separator}application_name={NAME}", size=size, timeout=1.5)


async def backends(db: str) -> list[int]:
    conn = await asyncpg.connect(asyncpg_dsn(db))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", NAME
        )
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


async def test_at_most_size_connections_serve_many_concurrent_statements(db: str) -> None:
    views = reader(db, size=3)
    try:
        answers = await asyncio.gather(
            *(views.value("SELECT $1::int FROM pg_sleep(0.01)", n) for n in range(30))
        )
        assert sorted(answers) == list(range(30))
        assert 1 <= len(await backends(db)) <= 3
    finally:
        await views.close()
    assert await backends(db) == []


async def test_a_connection_the_server_killed_costs_one_retry_not_an_error(db: str) -> None:
    views = reader(db, size=2)
    try:
        await asyncio.gather(views.value("SELECT pg_sleep(0.05)"), views.value("SELECT 1"))
        killed = await backends(db)
        assert killed
        admin = await asyncpg.connect(asyncpg_dsn(db))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", killed
            )
        finally:
            await admin.close()
        assert await views.value("SELECT 41 + 1") == 42  # retried once on a new connection
        assert set(await backends(db)).isdisjoint(killed)
    finally:
        await views.close()


async def test_no_server_is_unavailable_within_the_timeout() -> None:
    views = ViewReader.open("postgresql://nobody@127.0.0.1:1/none", size=2, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ViewsUnavailable):
        await views.value("SELECT 1")
    assert time.monotonic() - started < 1.5
    await views.close()
