"""Building the write side from settings and a NATS connection."""

from nats.aio.client import Client as NATS

from tally.settings import Settings
from write_side.command_service import CommandService
from write_side.event_store import JetStreamEventStore
from write_side.http.idempotent import IdempotentCommands
from write_side.http.routes import CommandRoutes
from write_side.idempotency import BUCKET as IDEMPOTENCY_BUCKET
from write_side.idempotency import IdempotencyStore, open_bucket
from write_side.key_value import JetStreamKeyValue
from write_side.observer import CommandObserver
from write_side.streams import StreamSettings, ensure_streams


def stream_settings(settings: Settings) -> StreamSettings:
    return StreamSettings(
        replicas=settings.stream_replicas,
        duplicate_window_seconds=settings.duplicate_window_seconds,
    )


async def migrate_streams(nc: NATS, settings: Settings) -> list[str]:
    js = nc.jetstream()
    names = await ensure_streams(js, stream_settings(settings))
    await open_bucket(
        js, ttl_seconds=settings.idempotency_ttl_hours * 3600, replicas=settings.stream_replicas
    )
    return names


async def command_routes(
    nc: NATS, settings: Settings, observer: CommandObserver | None = None
) -> CommandRoutes:
    store = JetStreamEventStore(nc, timeout=settings.nats_timeout)
    service = CommandService(store, max_attempts=settings.command_max_attempts, observer=observer)
    # made by `tally migrate`: the API's NATS user may not create it
    kv = JetStreamKeyValue(await nc.jetstream().key_value(IDEMPOTENCY_BUCKET), IDEMPOTENCY_BUCKET)
    idempotency = IdempotentCommands(IdempotencyStore(kv))
    return CommandRoutes(service, idempotency, deadline=settings.command_deadline)
