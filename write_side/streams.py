"""The event streams and their configuration, created or updated idempotently."""

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import NotFoundError

from events.partitions import Layout, partitions_in, transform_destination
from events.subjects import ORDERS, STOCK, STREAM_SUBJECTS, SUBJECT_PREFIX

PARTITIONED = (ORDERS, STOCK)  # the streams that views fold; PAYMENTS has no view


@dataclass(frozen=True)
class StreamSettings:
    replicas: int = 1
    duplicate_window_seconds: float = 120.0
    partitions: int = 1  # of ORDERS and STOCK, by aggregate (events/partitions.py)


def transform(name: str, partitions: int) -> SubjectTransform | None:
    """The subject transform that splits stream `name` into `partitions` (None: one)."""
    if partitions <= 1 or name not in PARTITIONED:
        return None
    source = STREAM_SUBJECTS[name]
    return SubjectTransform(
        src=source, dest=transform_destination(SUBJECT_PREFIX[name], partitions)
    )


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
        subject_transform=transform(name, settings.partitions),
    )


def partitions_of(config: StreamConfig) -> int:
    return partitions_in(config.subject_transform.dest if config.subject_transform else None)


async def read_layout(js: JetStreamContext) -> Layout:
    """The partitions of the event streams as configured on the server (the truth, whatever
    this process's settings say); a stream that is not there yet counts as one."""
    found: dict[str, int] = {}
    for name in PARTITIONED:
        try:
            found[name] = partitions_of((await js.stream_info(name)).config)
        except NotFoundError:
            found[name] = 1
    return Layout(found)


class RepartitionNeeded(Exception):
    """A stream holding events would change its partitions: its stored subjects must be
    rewritten (`write_side.repartition`), a configuration change alone would mix layouts."""


async def ensure_streams(js: JetStreamContext, settings: StreamSettings) -> list[str]:
    """Creates the event streams, or updates them to the wanted configuration."""
    done: list[str] = []
    for name in STREAM_SUBJECTS:
        config = stream_config(name, settings)
        try:
            live = await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            if partitions_of(live.config) != partitions_of(config) and live.state.messages:
                raise RepartitionNeeded(
                    f"stream {name} holds {live.state.messages} events in"
                    f" {partitions_of(live.config)} partition(s), {partitions_of(config)} wanted"
                )
            await js.update_stream(config)
        done.append(name)
    return done
