"""Changing how many partitions an event stream has, keeping every event at its sequence.

The subjects of stored messages cannot change in place, and a stream whose old events sit
at `orders.<id>` and new ones at `orders.<p>.<id>` would break every read by subject and
every expected sequence. So `tally migrate` rewrites the stream:

1. appends are refused: the stream's subjects move to `tally.repartition.<stream>.*`, so a
   writer's publish finds no stream (the API answers 503, fulfilment retries);
2. a mirror `<STREAM>_REPARTITION` copies it, sequences and headers as they are, and
   `settle` runs (the views' checkpoints are moved meanwhile, see projections.repartition);
3. the stream is made again, empty, from the same first sequence, with the new transform
   and still on the holding subjects; each event is published again in order to
   `tally.repartition.<stream>.<id>` (the transform stores it at `orders.<p>.<id>`) with
   its headers, less those that would make the server check them again (expected
   sequences, atomic batch markers); each acknowledgement must name the event's old
   sequence, or the rewrite stops with the mirror intact;
4. the stream takes its own subjects back (appends resume) and the mirror is deleted.

A stream's consumers go with it: `tally migrate` makes them again afterwards
(`restore_positions` puts a durable consumer back where it was acknowledged).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

from events.subjects import SUBJECT_PREFIX
from write_side.streams import StreamSettings, partitions_of, stream_config, transform

log = logging.getLogger("tally.migrate")
Settle = Callable[[int], Awaitable[None]]  # given the stream's last sequence
_DROPPED = ("Nats-Expected-", "Nats-Batch-")
BATCH = 500


class RepartitionFailed(Exception):
    """The rewrite could not keep every event at its sequence; the mirror holds them all."""


def holding_subject(stream: str) -> str:
    return f"tally.repartition.{SUBJECT_PREFIX[stream]}"


def backup_name(stream: str) -> str:
    return f"{stream}_REPARTITION"


async def acked_floors(js: JetStreamContext, stream: str) -> dict[str, int]:
    """Durable consumer -> the stream sequence acknowledged up to (to restore them)."""
    floors: dict[str, int] = {}
    for info in await js.consumers_info(stream):
        if info.config.durable_name and info.ack_floor is not None:
            floors[info.config.durable_name] = int(info.ack_floor.stream_seq or 0)
    return floors


async def repartition_stream(
    nc: NATS, stream: str, settings: StreamSettings, settle: Settle
) -> dict[str, int] | None:
    """Rewrite `stream` into `settings.partitions` partitions; None if it already is, else
    where each of its durable consumers was acknowledged (`restore_positions`)."""
    js = nc.jetstream(timeout=30)
    live = await js.stream_info(stream)
    wanted = stream_config(stream, settings)
    if partitions_of(live.config) == partitions_of(wanted) or live.state.messages == 0:
        return None  # nothing to rewrite (an empty stream is reconfigured by ensure_streams)
    hold = holding_subject(stream)
    await js.update_stream(replace(live.config, subjects=[f"{hold}.*"]))
    first, last = live.state.first_seq, live.state.last_seq
    backup = backup_name(stream)
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(backup)
    await js.add_stream(StreamConfig(name=backup, mirror=StreamSource(name=stream)))
    while (await js.stream_info(backup)).state.last_seq < last:  # noqa: ASYNC110 (the server)
        await asyncio.sleep(0.1)
    await settle(last)
    floors = await acked_floors(js, stream)
    await js.delete_stream(stream)
    source = transform(stream, settings.partitions)
    moved = replace(source, src=f"{hold}.*") if source else None
    await js.add_stream(
        replace(
            wanted,
            subjects=[f"{hold}.*"],
            subject_transform=moved,
            first_seq=first if first > 1 else None,
        )
    )
    copied = await _copy(nc, backup, stream, hold, first, last)
    await js.update_stream(wanted)
    await js.delete_stream(backup)
    log.info(
        "stream repartitioned",
        extra={"stream": stream, "partitions": settings.partitions, "events": copied},
    )
    return floors


async def _copy(nc: NATS, backup: str, stream: str, hold: str, first: int, last: int) -> int:
    js = nc.jetstream(timeout=30)
    if last < first:
        return 0
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=60.0
    )
    reader = await js.pull_subscribe(">", stream=backup, config=config)
    copied = 0
    try:
        while copied < last - first + 1:
            batch = await reader.fetch(min(BATCH, last - first + 1 - copied), timeout=10)
            acks = await asyncio.gather(
                *(
                    js.publish(
                        f"{hold}.{(msg.subject or '').rpartition('.')[2]}",
                        msg.data,
                        headers={
                            k: v
                            for k, v in (msg.headers or {}).items()
                            if not k.startswith(_DROPPED)
                        },
                    )
                    for msg in batch
                )
            )
            for msg, ack in zip(batch, acks, strict=True):
                if ack.seq != msg.metadata.sequence.stream or ack.duplicate:
                    raise RepartitionFailed(
                        f"{stream}: event {msg.metadata.sequence.stream} was stored at {ack.seq}"
                        f"; every event is still in {backup}"
                    )
            copied += len(batch)
    finally:
        await reader.unsubscribe()
    return copied


async def restore_positions(js: JetStreamContext, stream: str, floors: dict[str, int]) -> None:
    """Move each durable consumer back to where it was acknowledged before the rewrite
    (it was made again by `tally migrate`, at the start of the stream)."""
    for name, floor in floors.items():
        try:  # RESET does not answer at all for a missing consumer: ask first
            await js.consumer_info(stream, name)
        except NotFoundError:
            continue  # not made again (a view's consumer of another partition layout)
        await js.reset_consumer(stream, name, seq=floor + 1)
