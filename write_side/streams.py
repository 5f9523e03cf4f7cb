"""The event streams and their configuration, created or updated idempotently."""

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events.subjects import STREAM_SUBJECTS


@dataclass(frozen=True)
class StreamSettings:
    replicas: int = 1
    duplicate_window_seconds: float = 120.0


def stream_config(name: str, settings: StreamSettings) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[STREAM_SUBJECTS[name]],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window_seconds,
        allow_direct=True,
        allow_atomic=True,
        deny_delete=True,
        deny_purge=False,
    )


async def ensure_streams(js: JetStreamContext, settings: StreamSettings) -> list[str]:
    """Creates the event streams, or updates them to the wanted configuration."""
    done: list[str] = []
    for name in STREAM_SUBJECTS:
        config = stream_config(name, settings)
        try:
            await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
        done.append(name)
    return done
