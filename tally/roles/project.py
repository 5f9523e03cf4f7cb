"""`tally project [NAME...] [--partitions N] [--take P,...]`: the projectors of the views, in
one process: one per view, or one per partition of a view whose stream is partitioned (all
of them, or those taken; several processes may take some each, and any process that runs a
partition stands by for it when another holds it)."""

import asyncio
import logging

from events.partitions import Layout
from projections.base import Projection
from projections.batch import Retry
from projections.partitions import projectors_of, view_of
from projections.registry import PROJECTIONS, get_projection
from projections.runner import Projector, ProjectorSettings, untraced
from tally.bootstrap import Parts, bootstrap
from tally.database_url import asyncpg_dsn
from tally.metric_probes import ProjectionProbe
from tally.nats_drift import require_no_drift
from tally.roles.heap import settle_heap
from tally.roles.lifecycle import run_until_stopped
from tally.roles.replay_worker import ReplayWorker
from tally.roles.worker_http import projector_checks, serve_worker_http
from tally.settings import Settings

log = logging.getLogger("tally.project")


def projector_settings(settings: Settings) -> ProjectorSettings:
    return ProjectorSettings(
        batch_size=settings.projector_batch_size,
        retry=Retry(settings.projector_max_deliveries, settings.projector_retry_backoff),
        synchronous_commit=settings.projection_synchronous_commit,
    )


class PartitionsMismatch(Exception):
    """`--partitions N` names another count than the stream has (`tally migrate` sets it)."""


def choose(
    views: list[Projection], layout: Layout, partitions: int | None, take: list[int] | None
) -> list[Projection]:
    chosen: list[Projection] = []
    for view in views:
        count = layout.count(view.stream)
        if partitions is not None and partitions != count:
            raise PartitionsMismatch(
                f"{view.name}: stream {view.stream} has {count} partition(s), not {partitions}"
                f" (set TALLY_PARTITIONS={partitions} and run `tally migrate`)"
            )
        chosen += projectors_of(view, layout, take if count > 1 else None)
    return chosen


async def project(
    parts: Parts,
    stop: asyncio.Event,
    names: list[str] | None = None,
    *,
    partitions: int | None = None,
    take: list[int] | None = None,
) -> None:
    """Each projector holds its own PostgreSQL connection (with its advisory lock) and
    reconnects by itself, so it is given the URL rather than a pooled connection. The
    replays asked for through the admin API for these views run here too."""
    settings = parts.settings
    dsn = settings.projector_database_dsn()  # TALLY_PROJECTOR_DATABASE_URL, else DATABASE_URL
    if dsn is None:
        raise RuntimeError("DATABASE_URL is not set")
    views = [get_projection(name) for name in (names or list(PROJECTIONS))]
    chosen = choose(views, await parts.layout(), partitions, take)
    nc = await parts.nats()
    await require_no_drift(nc.jetstream(), "projector", settings)  # or stop, loudly
    config = projector_settings(settings)
    tracing = parts.tracing()
    span = untraced if tracing is None else tracing.batch_span
    projectors = [
        Projector(projection, nc, asyncpg_dsn(dsn), config, observer=parts.metrics, batch_span=span)
        for projection in chosen
    ]
    # Lag, stream head and dead letters of these views, sampled for the metrics.
    parts.metrics.watch_projections(p.name for p in chosen)
    probe = ProjectionProbe(nc.jetstream(), asyncpg_dsn(dsn), chosen, parts.metrics)
    parts.metrics.add_probe(probe)
    log.info("projecting", extra={"projections": [p.name for p in chosen]})
    settle_heap()  # started: what is allocated from here on is per event
    running = [projector.run(stop) for projector in projectors]
    owner = settings.database_dsn()  # a replay creates and swaps tables: the owner's URL
    if owner is not None:
        served = {view_of(projection) for projection in chosen}
        batch = settings.replay_batch_size
        running.append(ReplayWorker(nc, asyncpg_dsn(owner), served, batch_size=batch).run(stop))
    else:
        log.info("replays asked for through the admin API need DATABASE_URL; none taken here")
    try:
        await asyncio.gather(*running)
    finally:
        await probe.close()


async def run_projectors(
    settings: Settings,
    stop: asyncio.Event,
    names: list[str] | None = None,
    *,
    partitions: int | None = None,
    take: list[int] | None = None,
) -> None:
    """`tally project` alone: its /metrics, /health and /ready on TALLY_METRICS_PORT when
    that is set."""
    async with bootstrap(settings, name="tally-project") as parts:
        dsn = settings.projector_database_dsn()
        assert dsn is not None  # the CLI refuses to start without one
        views = [get_projection(name) for name in (names or list(PROJECTIONS))]
        chosen = choose(views, await parts.layout(), partitions, take)
        checks = await projector_checks(parts, chosen, dsn)
        await run_until_stopped(
            project(parts, stop, names, partitions=partitions, take=take),
            serve_worker_http(parts, stop, checks),
            stop=stop,
        )
