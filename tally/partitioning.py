"""`tally migrate` when `TALLY_PARTITIONS` differs from how the event streams are split:
each such stream rewritten (write_side.repartition) with the views' checkpoints moved while
its appends are refused (projections.repartition), then its durable consumers, made again by
the rest of the migration, put back where they were acknowledged.

Stop the writers' traffic or expect 503 answers while a stream is rewritten; from one
partition the projectors may be stopped or running, between partition counts they must be
running (their views must reach the stream's end first).
"""

import logging

from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from projections.repartition import settle_views
from write_side.repartition import repartition_stream, restore_positions
from write_side.streams import PARTITIONED, StreamSettings

log = logging.getLogger("tally.migrate")
Floors = dict[str, dict[str, int]]  # stream -> durable consumer -> acknowledged sequence


async def rewrite_partitions(nc: NATS, dsn: str | None, settings: StreamSettings) -> Floors:
    """Rewrite the streams whose partitions differ from `settings`; where each rewritten
    stream's durable consumers stood, for `restore_consumers` once they are made again."""
    js = nc.jetstream()
    floors: Floors = {}
    for stream in PARTITIONED:
        try:
            await js.stream_info(stream)
        except NotFoundError:  # not there yet: nothing to rewrite
            continue

        async def settle(last: int, stream: str = stream) -> None:
            if dsn is not None:
                await settle_views(dsn, js, stream, settings.partitions, last)

        moved = await repartition_stream(nc, stream, settings, settle)
        if moved is not None:
            floors[stream] = moved
            log.info(
                "stream rewritten", extra={"stream": stream, "partitions": settings.partitions}
            )
    return floors


async def restore_consumers(nc: NATS, floors: Floors) -> None:
    for stream, consumers in floors.items():
        await restore_positions(nc.jetstream(), stream, consumers)
