"""What a GET costs PostgreSQL, counted by the server itself (pg_stat_statements, on a
server of this test's own): one statement per GET, outside any transaction, with nothing
around it (no BEGIN/ROLLBACK, no pre-ping, no reset on returning the connection to the
pool), under the query API's own read-only login."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from pydantic import SecretStr

from support.db_roles import login_role
from support.query_app import query_client
from tally.database_url import asyncpg_dsn
from tally.embedded import EmbeddedPostgres
from tally.roles.database import run_alembic

pytestmark = pytest.mark.integration
GETS = 20
# what the LISTEN connection of read-your-writes sends once, when it connects
LISTENER = {'LISTEN "tally_projections"', "SELECT name, position FROM projection_checkpoints"}


@pytest.fixture
def counting_server(postgres_tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    settings = {"shared_preload_libraries": "pg_stat_statements", "fsync": "off"}
    with EmbeddedPostgres(postgres_tmp_path / "data", settings=settings) as server:
        yield server


@pytest.fixture
async def owner(counting_server: EmbeddedPostgres) -> AsyncIterator[str]:
    url = await asyncio.to_thread(counting_server.create_database, "counted")
    await run_alembic(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("CREATE EXTENSION pg_stat_statements")
    finally:
        await conn.close()
    yield url


async def seed(owner: str, order_id: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(owner))
    try:
        await conn.execute(
            "INSERT INTO orders VALUES ($1, 'ada', 'pending', 'EUR', 25, NULL, now(), now(), 1, 1,"
            """ '[{"sku": "sku-1", "quantity": 2, "unit_price": "12.50"}]');"""
            "INSERT INTO stock_items VALUES ('sku-1', 10, 2, 1, now(), 1);"
            "INSERT INTO projection_checkpoints (name, stream, position) VALUES"
            " ('orders', 'ORDERS', 5), ('stock', 'STOCK', 5)".replace("$1", f"'{order_id}'")
        )
    finally:
        await conn.close()


async def statements(owner: str, user: str) -> dict[str, int]:
    """Calls per statement text that `user` ran since the last reset."""
    conn = await asyncpg.connect(asyncpg_dsn(owner))
    try:
        rows = await conn.fetch(
            "SELECT query, calls FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " WHERE r.rolname = $1",
            user,
        )
        return {row["query"]: row["calls"] for row in rows}
    finally:
        await conn.close()


async def reset_statements(owner: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(owner))
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


async def repeated_gets(
    nc: NATS, nats_url: str, owner: str, **overrides: object
) -> tuple[dict[str, int], list[str]]:
    """The statements the query login ran for GETS rounds of the five GETs, once each had
    been asked twice (connections made, statements prepared, LISTEN up)."""
    order_id = str(uuid4())
    await seed(owner, order_id)
    paths = [
        f"/orders/{order_id}",
        f"/orders/{order_id}?after=ORDERS:5",
        "/stock/sku-1",
        "/orders?customer_id=ada&limit=50",
        "/stock?limit=100",
    ]
    async with login_role(owner, "tally_query") as query_url:
        user = query_url.split("://", 1)[1].split(":", 1)[0]
        overrides["query_database_url"] = SecretStr(query_url)
        async with query_client(nc, nats_url, owner, **overrides) as client:
            # twice: answers read before the LISTEN connection is up are never kept, and
            # under load it may come up only after the first GETs
            for path in paths + paths:
                assert (await client.get(path)).status_code == 200
            await reset_statements(owner)
            for _ in range(GETS):
                for path in paths:
                    answer = await client.get(path)
                    assert answer.status_code == 200, answer.text
            ran = await statements(owner, user)
    return ran, paths


async def test_a_get_is_one_statement_outside_a_transaction(
    nc: NATS, nats_url: str, owner: str
) -> None:
    ran, paths = await repeated_gets(nc, nats_url, owner, query_cache_entries=0)
    views = {query: calls for query, calls in ran.items() if query not in LISTENER}
    assert sum(views.values()) == GETS * len(paths), ran  # one statement per GET
    assert len(views) == 4, ran  # by id (with or without `after`), by SKU, two lists
    assert all(" FROM orders o" in q or " FROM stock_items s" in q for q in views), ran
    assert not [
        q
        for q in ran
        if q.split()[0].upper() in {"BEGIN", "COMMIT", "ROLLBACK", "RESET", "UNLISTEN", "CLOSE"}
    ], ran


async def test_a_cached_get_runs_no_statement(nc: NATS, nats_url: str, owner: str) -> None:
    """With the row cache (the default), the views did not change since the first GETs:
    every later GET is answered from the API's memory."""
    ran, _ = await repeated_gets(nc, nats_url, owner)
    assert not {query: calls for query, calls in ran.items() if query not in LISTENER}, ran
