"""`tally project [NAME...]`: the projectors, one per projection, in one process."""

import asyncio
import logging

from prometheus_client import start_http_server

from projections.registry import PROJECTIONS, get_projection
from projections.runner import Projector
from tally.database_url import asyncpg_dsn
from tally.metrics import Metrics
from tally.nats_auth import nats_auth_options
from tally.nats_connection import connect_nats
from tally.roles.read_side import projector_settings
from tally.settings import Settings

log = logging.getLogger("tally.project")


async def run_projectors(
    settings: Settings,
    stop: asyncio.Event,
    names: list[str] | None = None,
    metrics: Metrics | None = None,
) -> None:
    """`metrics` is shared with the other roles of `tally up`; alone, the projectors serve
    theirs on TALLY_METRICS_PORT when it is set."""
    dsn = settings.projector_database_dsn()  # TALLY_PROJECTOR_DATABASE_URL, else DATABASE_URL
    if dsn is None:
        raise RuntimeError("DATABASE_URL is not set")
    chosen = [get_projection(name) for name in (names or list(PROJECTIONS))]
    if metrics is None:
        metrics = Metrics()
        if settings.metrics_port:
            start_http_server(settings.metrics_port, settings.host, registry=metrics.registry)
    nc = await connect_nats(
        settings.nats_servers,
        name="tally-project",
        connect_timeout=settings.nats_connect_timeout,
        **nats_auth_options(settings),
    )
    try:
        config = projector_settings(settings)
        projectors = [Projector(p, nc, asyncpg_dsn(dsn), config, observer=metrics) for p in chosen]
        log.info("projecting", extra={"projections": [p.name for p in chosen]})
        await asyncio.gather(*(projector.run(stop) for projector in projectors))
    finally:
        await nc.drain()
