"""The raw read baselines of the projection rows: what nats-py itself gives, with none of
Tally's code in the way.

- `ackall_read`: a durable AckAll pull consumer read through our own inbox subscription
  with a callback, `$JS.API.CONSUMER.MSG.NEXT` requests of 500 (two in flight, so the
  next batch travels while the callback works), an ack of the last message of each batch,
  nothing decoded. Run on the events as Tally stores them (six headers) and on a stream
  holding the same bodies without headers (`copy_without_headers`): nats-py parses every
  header block it receives, and that cost is ours to avoid, not part of the floor.
- `ordered_read`: an ordered push consumer with a callback over the whole stream.
"""

import asyncio
import contextlib
import json
import time
from uuid import uuid4

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

BATCH = 500
PLAIN_PREFIX = "plain"
KEYED_PREFIX = "keyed"


def plain_stream(stream: str) -> str:
    return f"{stream}_PLAIN"


def keyed_stream(stream: str) -> str:
    return f"{stream}_KEYED"


async def copy_without_headers(
    nc: NATS, stream: str, *, keyed: bool = False, last: int | None = None
) -> int:
    """A stream `<STREAM>_PLAIN` holding the bodies of `stream`'s messages (the `last` ones
    if given, else all), in order, without any header, on one subject (made again from
    scratch); returns how many it holds. `keyed`: the stream `<STREAM>_KEYED` instead, each
    body on its own subject under `keyed.` (`keyed.orders.<id>`: the key a reader without
    headers needs, as the catch-up floor's)."""
    js = nc.jetstream()
    plain = keyed_stream(stream) if keyed else plain_stream(stream)
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(plain)
    subject = f"{PLAIN_PREFIX}.{stream.lower()}"
    subjects = [f"{KEYED_PREFIX}.{stream.lower()}.>" if keyed else subject]
    await js.add_stream(StreamConfig(name=plain, subjects=subjects))
    end = (await js.stream_info(stream)).state.last_seq
    total = end if last is None else min(last, end)
    reader = await js.pull_subscribe(
        f"{stream.lower()}.>",
        durable=None,
        stream=stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=end - total + 1,
        ),
    )
    copied = 0
    try:
        while copied < total:
            batch = await reader.fetch(min(BATCH, total - copied), timeout=10)
            await asyncio.gather(
                *(
                    js.publish(f"{KEYED_PREFIX}.{msg.subject}" if keyed else subject, msg.data)
                    for msg in batch
                )
            )
            copied += len(batch)
    finally:
        await reader.unsubscribe()
    return copied


async def ackall_read(nc: NATS, stream: str, count: int) -> float:
    """Messages/s of the raw AckAll pull read of the first `count` messages of `stream`."""
    js = nc.jetstream()
    name = f"bench-raw-{uuid4().hex[:6]}"
    await js.add_consumer(
        stream,
        ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, max_ack_pending=20_000),
    )
    inbox = nc.new_inbox()
    request = json.dumps({"batch": BATCH, "expires": 5_000_000_000}).encode()
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"
    done = asyncio.Event()
    seen = 0

    async def on_message(msg: Msg) -> None:
        nonlocal seen
        if not msg.reply:  # a status (request expired): ask again
            await nc.publish(next_subject, request, reply=inbox)
            return
        seen += 1
        if seen % BATCH == 0 or seen == count:
            await nc.publish(msg.reply, b"+ACK")
            if seen >= count:
                done.set()
            else:
                await nc.publish(next_subject, request, reply=inbox)

    subscription = await nc.subscribe(inbox, cb=on_message)
    started = time.perf_counter()
    for _ in range(2):
        await nc.publish(next_subject, request, reply=inbox)
    try:
        await asyncio.wait_for(done.wait(), 600)
        return count / (time.perf_counter() - started)
    finally:
        await subscription.unsubscribe()
        await js.delete_consumer(stream, name)


async def ordered_read(nc: NATS, stream: str) -> float:
    """Messages/s of an ordered push consumer with a callback over the whole stream."""
    js = nc.jetstream()
    total = (await js.stream_info(stream)).state.last_seq
    done = asyncio.Event()
    seen = 0

    async def count(msg: Msg) -> None:
        nonlocal seen
        seen += 1
        if seen >= total:
            done.set()

    started = time.perf_counter()
    subscription = await js.subscribe(f"{stream.lower()}.>", cb=count, ordered_consumer=True)
    try:
        await asyncio.wait_for(done.wait(), 600)
        return total / (time.perf_counter() - started)
    finally:
        await subscription.unsubscribe()
