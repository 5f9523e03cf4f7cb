"""`tally migrate` (and the start of `tally up`): the streams, the key-value buckets, the
consumers, the dead letters and the database schema. Only this command (the NATS admin)
creates or changes them."""

import logging

from nats.aio.client import Client as NATS

from events.partitions import Layout
from projections.consumers import ensure_view_consumers
from projections.dlq import ensure_dlq_stream
from projections.registry import PROJECTIONS
from tally.bootstrap import Parts, bootstrap
from tally.database_url import asyncpg_dsn
from tally.operator.session import operator_session
from tally.partitioning import restore_consumers, rewrite_partitions
from tally.roles.database import upgrade_database
from tally.roles.fulfil import ensure_fulfilment
from tally.roles.migrate_check import database_behind, streams_behind
from tally.settings import Settings
from write_side.idempotency import open_bucket
from write_side.ids import ensure_id_secret
from write_side.key_value import open_key_value
from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET
from write_side.streams import PARTITIONED, StreamSettings, ensure_streams

log = logging.getLogger("tally.migrate")


def stream_settings(settings: Settings) -> StreamSettings:
    return StreamSettings(
        replicas=settings.stream_replicas,
        duplicate_window_seconds=settings.duplicate_window_seconds,
        partitions=settings.partitions,
    )


async def migrate_streams(nc: NATS, settings: Settings) -> list[str]:
    """The event streams, the Idempotency-Key and snapshot buckets and the order-id
    secret; the streams' names."""
    js = nc.jetstream()
    names = await ensure_streams(js, stream_settings(settings))
    await open_bucket(
        js, ttl_seconds=settings.idempotency_ttl_hours * 3600, replicas=settings.stream_replicas
    )
    await ensure_id_secret(js, replicas=settings.stream_replicas)
    await open_key_value(
        js,
        SNAPSHOT_BUCKET,
        ttl_seconds=None,
        replicas=settings.stream_replicas,
        description="Tally: snapshots of long aggregates (a hint; the streams are the truth)",
        direct=True,  # read by a direct get: a hint, which any replica may answer
    )
    return names


async def migrate(parts: Parts) -> None:
    """The database first: a change of TALLY_PARTITIONS moves the views' checkpoints while
    it rewrites a stream (tally/partitioning.py)."""
    settings = parts.settings
    dsn = settings.database_dsn()
    if dsn is not None:
        await upgrade_database(dsn)
    nc = await parts.nats()
    floors = await rewrite_partitions(
        nc, asyncpg_dsn(dsn) if dsn else None, stream_settings(settings)
    )
    streams = await migrate_streams(nc, settings)
    await ensure_fulfilment(nc, settings)
    await ensure_dlq_stream(nc.jetstream(), replicas=settings.stream_replicas)
    layout = Layout({stream: settings.partitions for stream in PARTITIONED})
    for projection in PROJECTIONS.values():
        await ensure_view_consumers(nc.jetstream(), projection, layout)
    await restore_consumers(nc, floors)
    log.info(
        "streams ready",
        extra={
            "streams": streams,
            "replicas": settings.stream_replicas,
            "partitions": settings.partitions,
        },
    )


async def run_migrate(settings: Settings, timeout: float | None = None) -> None:
    """`tally migrate`: NATS (and PostgreSQL, when set) reached within `timeout` seconds
    (default TALLY_NATS_CONNECT_TIMEOUT), else one error naming the server."""
    async with bootstrap(settings, name="tally-migrate", connect_timeout=timeout) as parts:
        await parts.nats()
        if settings.database_dsn() is not None:
            await parts.database()  # reachable, or one line now rather than retries later
        await migrate(parts)


async def run_migrate_check(settings: Settings, timeout: float) -> list[str]:
    """`tally migrate --check`: what is not at head (nothing changed); [] when all is."""
    dsn = settings.database_dsn()
    async with operator_session(settings, timeout, database=dsn is not None) as parts:
        found = await streams_behind((await parts.nats()).jetstream(), settings)
        if dsn is not None:
            found += await database_behind(await parts.database(), dsn)
        return found
