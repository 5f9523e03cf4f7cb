"""`tally project [NAME...]`: the projectors, one per projection, in one process."""

import asyncio
import logging

from projections.batch import Retry
from projections.registry import PROJECTIONS, get_projection
from projections.runner import Projector, ProjectorSettings
from tally.bootstrap import Parts, bootstrap
from tally.database_url import asyncpg_dsn
from tally.metric_probes import ProjectionProbe
from tally.nats_drift import require_no_drift
from tally.settings import Settings

log = logging.getLogger("tally.project")


def projector_settings(settings: Settings) -> ProjectorSettings:
    return ProjectorSettings(
        batch_size=settings.projector_batch_size,
        retry=Retry(settings.projector_max_deliveries, settings.projector_retry_backoff),
    )


async def project(parts: Parts, stop: asyncio.Event, names: list[str] | None = None) -> None:
    """Each projector holds its own PostgreSQL connection (with the view's advisory lock)
    and reconnects by itself, so it is given the URL rather than a pooled connection."""
    settings = parts.settings
    dsn = settings.projector_database_dsn()  # TALLY_PROJECTOR_DATABASE_URL, else DATABASE_URL
    if dsn is None:
        raise RuntimeError("DATABASE_URL is not set")
    chosen = [get_projection(name) for name in (names or list(PROJECTIONS))]
    nc = await parts.nats()
    await require_no_drift(nc.jetstream(), "projector", settings)  # or stop, loudly
    config = projector_settings(settings)
    projectors = [
        Projector(projection, nc, asyncpg_dsn(dsn), config, observer=parts.metrics)
        for projection in chosen
    ]
    # Lag, stream head and dead letters of these views, sampled for the metrics.
    parts.metrics.watch_projections(p.name for p in chosen)
    probe = ProjectionProbe(nc.jetstream(), asyncpg_dsn(dsn), chosen, parts.metrics)
    parts.metrics.add_probe(probe)
    log.info("projecting", extra={"projections": [p.name for p in chosen]})
    try:
        await asyncio.gather(*(projector.run(stop) for projector in projectors))
    finally:
        await probe.close()


async def run_projectors(
    settings: Settings, stop: asyncio.Event, names: list[str] | None = None
) -> None:
    """`tally project` alone: its metrics on TALLY_METRICS_PORT when that is set."""
    async with bootstrap(settings, name="tally-project") as parts:
        parts.serve_metrics()
        await project(parts, stop, names)
