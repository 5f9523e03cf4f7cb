"""The catch-up's floor: what a raw Python pipeline with none of Tally's projection code does
with the same events, measured in the same run as the projector and the raw read.

- read: the raw AckAll pull read of `bench.projection_raw.ackall_read` (our own inbox with
  a callback, `MSG.NEXT` requests of 500, two in flight, an ack of each batch's last
  message), on the stream with Tally's headers (what the projector reads), from the first
  of the last `count` events (what the catch-up just published);
- decode and write: `bench.floor_views` (msgspec into plain values; typed arrays and
  `unnest` into Tally's migrated tables), batches of 2,000 events, one transaction each
  with an upsert of a checkpoint row, `synchronous_commit` off as the projectors';
- pipelined: the next batch is read while the last one is written (one batch may wait
  whole beside the one written: what is read ahead stays bounded).

The floor writes into a database of its own on the same PostgreSQL, migrated by the
project's Alembic migrations (`tally.roles.database.run_alembic`), its view emptied before
each run; `differences` compares its rows with the projector's.
"""

import asyncio
import json
import time
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.floor_views import BATCHES, CHECKPOINT, TABLES, Batch
from bench.projection_raw import BATCH
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.roles.database import run_alembic

WRITE_BATCH = 2000
DATABASE = "floor"
COLUMNS = {
    "orders": "order_id, customer_id, status, currency, total, reason, created_at, updated_at,"
    " version, last_seq, lines",
    "stock": "sku, on_hand, reserved, version, updated_at, last_seq",
}
KEYS = {"orders": ("order_id", "uuid"), "stock": ("sku", "text")}


async def floor_database(postgres: EmbeddedPostgres) -> str:
    """The floor's database on `postgres`, created and migrated to head by the project's
    migrations (the real tables and indexes); its URL."""
    url = await asyncio.to_thread(postgres.create_database, DATABASE)
    await run_alembic(url)
    return url


async def reset(dsn: str, view: str) -> None:
    """The floor's view empty and its checkpoint row gone: each run starts from nothing."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {TABLES[view]}")
        await conn.execute("DELETE FROM projection_checkpoints WHERE name = $1", f"floor-{view}")
    finally:
        await conn.close()


async def _write(
    dsn: str, view: str, stream: str, full: "asyncio.Queue[Batch]", count: int
) -> float:
    """Takes the read batches and writes each in a transaction of its own with the
    checkpoint row; returns when `count` events are written (perf_counter time)."""
    conn = await asyncpg.connect(dsn, server_settings={"synchronous_commit": "off"})
    name, written = f"floor-{view}", 0
    try:
        while written < count:
            batch = await full.get()
            async with conn.transaction():
                await batch.write(conn)
                await conn.execute(CHECKPOINT, name, stream, batch.last_seq)
            written += batch.size
        return time.perf_counter()
    finally:
        await conn.close()


async def floor_catch_up(
    nc: NATS,
    dsn: str,
    stream: str,
    view: str,
    count: int,
    *,
    headers: bool = True,
    batch_size: int = WRITE_BATCH,
) -> float:
    """Events/s of the floor over the last `count` events of `stream` into `view` of the
    floor's database `dsn` (emptied first), from the first request to the last commit.
    `headers=False`: `stream` holds the bodies alone, each on its key's subject
    (`bench.projection_raw.copy_without_headers(keyed=True)`)."""
    await reset(dsn, view)
    js = nc.jetstream()
    first = (await js.stream_info(stream)).state.last_seq - count + 1
    name = f"bench-floor-{uuid4().hex[:6]}"
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=name,
            ack_policy=AckPolicy.ALL,
            max_ack_pending=20_000,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=first,
        ),
    )
    inbox = nc.new_inbox()
    request = json.dumps({"batch": BATCH, "expires": 5_000_000_000}).encode()
    next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"
    full: asyncio.Queue[Batch] = asyncio.Queue(maxsize=1)  # one waits while one is written
    failed: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    kind = BATCHES[view]

    def new_batch() -> Batch:
        return kind(headers=headers)

    batch = new_batch()
    seen = 0

    async def on_message(msg: Msg) -> None:
        nonlocal seen, batch
        if not msg.reply:  # a status (request expired): ask again
            await nc.publish(next_subject, request, reply=inbox)
            return
        seen += 1
        try:
            batch.add(msg)
        except Exception as error:  # a type the floor does not fold: the run fails
            if not failed.done():
                failed.set_exception(error)
            return
        if batch.size >= batch_size or seen == count:
            await full.put(batch)  # waits while a whole batch is already waiting
            batch = new_batch()
        if seen % BATCH == 0 or seen == count:
            await nc.publish(msg.reply, b"+ACK")
            if seen < count:
                await nc.publish(next_subject, request, reply=inbox)

    subscription = await nc.subscribe(inbox, cb=on_message)
    started = time.perf_counter()
    writer = asyncio.create_task(_write(dsn, view, stream, full, count))
    try:
        for _ in range(2):
            await nc.publish(next_subject, request, reply=inbox)
        racing: set[asyncio.Future[float]] = {writer, failed}
        done, _ = await asyncio.wait(racing, timeout=600, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise TimeoutError(f"the floor did not write {count} {view} events in 600 s")
        return count / (done.pop().result() - started)
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await subscription.unsubscribe()
        await js.delete_consumer(stream, name)


async def differences(floor_dsn: str, view_dsn: str, view: str, *, exact: bool = True) -> str:
    """Nothing (an empty text) when every row of the floor's view is the projector's row of
    the same key (the projector's view may hold more keys: the earlier runs'), else what
    differs; `exact` false: but for their times and last sequences (a floor without headers
    reads a copy of the bodies: the times and the sequences are the copy's)."""
    key, key_type = KEYS[view]
    table, columns = TABLES[view], COLUMNS[view]
    if not exact:
        columns = ", ".join(
            c for c in columns.split(", ") if not c.endswith("_at") and c != "last_seq"
        )
    floor = await asyncpg.connect(floor_dsn)
    try:
        mine = [
            tuple(row) for row in await floor.fetch(f"SELECT {columns} FROM {table} ORDER BY {key}")
        ]
    finally:
        await floor.close()
    projected = await asyncpg.connect(view_dsn)
    try:
        theirs = [
            tuple(row)
            for row in await projected.fetch(
                f"SELECT {columns} FROM {table} WHERE {key} = ANY($1::{key_type}[]) ORDER BY {key}",
                [row[0] for row in mine],
            )
        ]
    finally:
        await projected.close()
    if not mine:
        return f"the floor wrote no {view} rows"
    if len(theirs) != len(mine):
        return f"{len(mine)} {view} rows in the floor's view, {len(theirs)} of them projected"
    wrong = [(a, b) for a, b in zip(mine, theirs, strict=True) if a != b]
    if wrong:
        first = f"floor {wrong[0][0]}, projector {wrong[0][1]}"
        return f"{len(wrong)} of {len(mine)} {view} rows differ, e.g. {first}"
    return ""
