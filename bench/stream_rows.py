"""Projection catch-up (the real `tally project` process) and `tally replay` (the same
Replay class in this process) over >= 200k ORDERS events, and their raw baselines: a
callback pull consumer read and 500-row upserts (bench.projection_load), an ordered-consumer
read and COPY."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bench.cluster import Role
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderConfirmed, OrderLine, OrderPlaced
from projections.registry import get_projection
from projections.replay import Replay

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LINE = OrderLine(sku="sku-1", quantity=2, unit_price=Decimal("12.50"))


async def publish_orders(nc: NATS, count: int) -> None:
    """`count` ORDERS events: count/2 orders placed, then each of them confirmed."""
    js = nc.jetstream()
    pending: list[asyncio.Future[object]] = []
    orders = [str(uuid4()) for _ in range(count // 2)]
    for index, order_id in enumerate(orders + orders):
        envelope = Envelope(occurred_at=T0 + timedelta(milliseconds=index))
        event = (
            OrderPlaced(
                customer_id=f"c{index % 97}", currency="EUR", lines=(LINE,), total=Decimal(25)
            )
            if index < len(orders)
            else OrderConfirmed(authorization_id="auth")
        )
        payload, headers = encode(event, envelope)
        pending.append(
            asyncio.ensure_future(js.publish(f"orders.{order_id}", payload, headers=headers))
        )
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def catch_up(nc: NATS, dsn: str, projector: Role, count: int) -> float:
    """Events/s of the paused `tally project` process from its resumption until its orders
    checkpoint reaches the stream's end (`count` new events were published meanwhile)."""
    target = (await nc.jetstream().stream_info("ORDERS")).state.last_seq
    conn = await asyncpg.connect(dsn)
    query = "SELECT position FROM projection_checkpoints WHERE name = 'orders'"
    try:
        start = await conn.fetchval(query) or 0
        started = time.perf_counter()
        projector.resume()
        while (await conn.fetchval(query) or 0) < target:  # noqa: ASYNC110 (a bench)
            await asyncio.sleep(0.02)
        return (target - start) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def replay(nc: NATS, dsn: str, name: str, batch: int = 5000) -> float:
    """Events/s of `tally replay NAME` (the same Replay class, in this process)."""
    started = time.perf_counter()
    result = await Replay(get_projection(name), nc, dsn, batch_size=batch).run()
    return result.events / (time.perf_counter() - started)


async def raw_ordered_read(nc: NATS, stream: str) -> float:
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
    await asyncio.wait_for(done.wait(), 600)
    elapsed = time.perf_counter() - started
    await subscription.unsubscribe()
    return total / elapsed


async def raw_copy(dsn: str, count: int, batch: int = 5000) -> float:
    """Rows/s of COPY into a fresh table, `batch` rows per transaction (as the replay)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_copy (k text PRIMARY KEY, customer text, status text,"
            " total numeric, at timestamptz, v int)"
        )
        started = time.perf_counter()
        for first in range(0, count, batch):
            rows = [
                (f"k{i}", f"c{i % 97}", "pending", Decimal(25), T0, 1)
                for i in range(first, min(count, first + batch))
            ]
            async with conn.transaction():
                await conn.copy_records_to_table("bench_copy", records=rows)
        return count / (time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_copy")
        await conn.close()
