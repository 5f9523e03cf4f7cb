"""The composition root against real NATS and PostgreSQL: each part is built once per
process, however many roles ask at once, the roles of one process share them, and
everything the root opened is closed when it exits."""

import asyncio

import pytest
from pydantic import SecretStr

from tally.bootstrap import bootstrap
from tally.metrics import Metrics
from tally.roles.database import run_alembic
from tally.roles.migrate import migrate
from tally.settings import Settings

pytestmark = pytest.mark.integration


def settings_for(nats_url: str, database_url: str | None = None) -> Settings:
    secret = SecretStr(database_url) if database_url else None
    return Settings(nats_url=nats_url, database_url=secret, nats_connect_timeout=5)


async def test_each_part_is_built_once_and_shared(nats_url: str) -> None:
    metrics = Metrics()
    async with bootstrap(settings_for(nats_url), name="test-root", metrics=metrics) as parts:
        first, second = await asyncio.gather(parts.nats(), parts.nats())
        assert first is second and first.is_connected
        await migrate(parts)
        services = await asyncio.gather(*(parts.command_service() for _ in range(3)))
        assert all(service is services[0] for service in services)
        routes = await parts.command_routes()
        assert routes is await parts.command_routes()
        assert parts.breaker() is parts.breaker() and parts.metrics is metrics
        assert (await parts.query_side()).routes == []  # no database: no query routes
    assert first.is_closed  # drained when the root exits


async def test_the_query_side_opens_its_pool_and_listener_and_closes_them(
    nats_url: str, database_url: str
) -> None:
    await run_alembic(database_url)
    async with bootstrap(settings_for(nats_url, database_url), name="test-root") as parts:
        side = await parts.query_side()
        assert side is await parts.query_side()
        assert {"postgres", "projections"} <= set(side.checks)
        assert await side.checks["postgres"]() == (True, "ok")
        conn = await parts.database()
        assert await conn.fetchval("SELECT 1") == 1
    assert conn.is_closed()


async def test_a_borrowed_connection_is_left_open(nats_url: str) -> None:
    async with bootstrap(settings_for(nats_url), name="lender") as lender:
        nc = await lender.nats()
        async with bootstrap(settings_for(nats_url), name="borrower", nats=nc) as borrower:
            assert await borrower.nats() is nc
        assert nc.is_connected
