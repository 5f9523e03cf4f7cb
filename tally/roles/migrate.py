"""`tally migrate`: the streams, the key-value buckets, the consumers, the dead letters and
the database schema. Only this command (the NATS admin) creates or changes them."""

import logging

from projections.consumers import ensure_projection_consumer
from projections.dlq import ensure_dlq_stream
from projections.registry import PROJECTIONS
from tally.nats_auth import nats_auth_options
from tally.nats_connection import connect_nats
from tally.roles.database import upgrade_database
from tally.roles.fulfil import ensure_fulfilment
from tally.roles.write_side import migrate_streams
from tally.settings import Settings

log = logging.getLogger("tally.migrate")


async def run_migrate(settings: Settings) -> None:
    nc = await connect_nats(
        settings.nats_servers,
        name="tally-migrate",
        connect_timeout=settings.nats_connect_timeout,
        **nats_auth_options(settings),
    )
    try:
        streams = await migrate_streams(nc, settings)
        await ensure_fulfilment(nc, settings)
        await ensure_dlq_stream(nc.jetstream(), replicas=settings.stream_replicas)
        for projection in PROJECTIONS.values():
            await ensure_projection_consumer(nc.jetstream(), projection)
        log.info("streams ready", extra={"streams": streams, "replicas": settings.stream_replicas})
    finally:
        await nc.drain()
    dsn = settings.database_dsn()
    if dsn is not None:
        await upgrade_database(dsn)
