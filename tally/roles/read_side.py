"""Building the read side from settings: the query routes with their pool and LISTEN
connection, their readiness checks, and the projectors."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from projections.batch import Retry
from projections.registry import PROJECTIONS
from projections.runner import ProjectorSettings
from read_side.http.routes import QueryRoutes
from read_side.positions import ProjectionPositions
from read_side.read_your_writes import WaitForView
from read_side.views import ViewReader
from tally.database_url import asyncpg_dsn
from tally.http.ops import Check, CheckResult
from tally.roles.database import create_engine
from tally.settings import Settings

log = logging.getLogger("tally.read_side")


def projector_settings(settings: Settings) -> ProjectorSettings:
    return ProjectorSettings(
        batch_size=settings.projector_batch_size,
        retry=Retry(settings.projector_max_deliveries, settings.projector_retry_backoff),
    )


def postgres_check(engine: AsyncEngine) -> Check:
    async def check() -> CheckResult:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True, "ok"

    return check


def projections_check(routes: QueryRoutes, max_lag: int) -> Check:
    async def check() -> CheckResult:
        states = await routes.projection_states()
        behind = [f"{item['name']} lag {item['lag']}" for item in states if item["lag"] > max_lag]
        if behind:
            return False, f"over {max_lag} behind: " + ", ".join(behind)
        return True, ", ".join(f"{item['name']} lag {item['lag']}" for item in states)

    return check


@dataclass(frozen=True)
class QuerySide:
    routes: list[BaseRoute]
    checks: Mapping[str, Check]


@contextlib.asynccontextmanager
async def query_side(nc: NATS, settings: Settings) -> AsyncIterator[QuerySide]:
    """The query routes with their pool and notification listener, open while in use."""
    dsn = settings.query_database_dsn()  # TALLY_QUERY_DATABASE_URL, else DATABASE_URL
    if dsn is None:
        log.warning("DATABASE_URL is not set: no query routes")
        yield QuerySide([], {})
        return
    engine = create_engine(dsn, pool_size=settings.db_pool_size, timeout=settings.query_timeout)
    positions = ProjectionPositions(asyncpg_dsn(dsn))
    await positions.start()
    try:
        views = ViewReader(engine, timeout=settings.query_timeout)
        streams = {name: p.stream for name, p in PROJECTIONS.items()}
        queries = QueryRoutes(views, nc, WaitForView(positions, views, streams))
        checks = {
            "postgres": postgres_check(engine),
            "projections": projections_check(queries, settings.projection_ready_lag),
        }
        yield QuerySide(list(queries.routes()), checks)
    finally:
        await positions.close()
        await asyncio.shield(engine.dispose())
