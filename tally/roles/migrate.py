"""`tally migrate`: the streams, the key-value bucket, the dead letters and the database schema."""

import logging

from projections.dlq import ensure_dlq_stream
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
        log.info("streams ready", extra={"streams": streams, "replicas": settings.stream_replicas})
    finally:
        await nc.drain()
    dsn = settings.database_dsn()
    if dsn is not None:
        await upgrade_database(dsn)
