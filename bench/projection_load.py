"""The data and the raw baselines of bench.projection_rate: publishing the events, a raw
pull-consumer read, a raw batched PostgreSQL upsert, decoding alone, a digest of a view."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig

from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderConfirmed, OrderLine, OrderPlaced
from events.stock import StockReceived, StockReserved
from projections.messages import StoredMessage, decode_all
from projections.pull import PullReader

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LINE = OrderLine(sku="sku-1", quantity=2, unit_price=Decimal("12.50"))


async def publish_events(nc: NATS, count: int) -> None:
    """`count` ORDERS events (half placed, half confirmed) and `count` STOCK events."""
    js = nc.jetstream()
    pending: list[asyncio.Future[object]] = []

    async def send(subject: str, data: bytes, headers: dict[str, str]) -> None:
        pending.append(asyncio.ensure_future(js.publish(subject, data, headers=headers)))
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()

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
        await send(f"orders.{order_id}", *encode(event, envelope))
    for index in range(count):
        stock_event = (
            StockReceived(quantity=5) if index % 2 else StockReserved(order_id="o", quantity=1)
        )
        envelope = Envelope(occurred_at=T0 + timedelta(milliseconds=index))
        await send(f"stock.sku-{index % 1000}", *encode(stock_event, envelope))
    await asyncio.gather(*pending)


async def raw_pull(
    nc: NATS, stream: str, count: int, keep: list[StoredMessage] | None = None
) -> float:
    """Messages/s of a callback pull consumer, AckAll on each batch's last message."""
    name = f"bench-{uuid4().hex[:6]}"
    await nc.jetstream().add_consumer(
        stream, ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, max_ack_pending=20_000)
    )
    reader = PullReader(nc, stream, name, prefetch=1000, decode=False)
    await reader.start()
    started, seen = time.perf_counter(), 0
    while seen < count:
        batch = await reader.take(500, timeout=5)
        if keep is not None:
            keep += batch
        seen += len(batch)
        await reader.ack_all(batch[-1])
    elapsed = time.perf_counter() - started
    await reader.close()
    await nc.jetstream().delete_consumer(stream, name)
    return count / elapsed


async def raw_upsert(dsn: str, count: int) -> float:
    """Rows/s of 500-row unnest upserts, one transaction each, onto 5,000 keys."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_upsert (k text PRIMARY KEY, n bigint, v int,"
            " at timestamptz, s bigint)"
        )
        started = time.perf_counter()
        for first in range(0, count, 500):
            keys = [f"k{i % 5000}" for i in range(first, first + 500)]
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO bench_upsert AS b SELECT * FROM unnest($1::text[], $2::bigint[],"
                    " $3::int[], $4::timestamptz[], $5::bigint[]) ON CONFLICT (k) DO UPDATE SET"
                    " n = b.n + EXCLUDED.n, v = b.v + EXCLUDED.v, at = EXCLUDED.at, s = EXCLUDED.s",
                    list(dict.fromkeys(keys)),
                    [1] * len(set(keys)),
                    [1] * len(set(keys)),
                    [T0] * len(set(keys)),
                    [first] * len(set(keys)),
                )
        return count / (time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_upsert")
        await conn.close()


def decode_rate(messages: list[StoredMessage]) -> float:
    """Events/s of events.codec alone (pydantic validation, upcasting, envelope)."""
    started = time.perf_counter()
    decode_all(messages)
    return len(messages) / (time.perf_counter() - started)


async def view_digest(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        digest: str = await conn.fetchval(
            "SELECT md5(string_agg(t::text, ',' ORDER BY order_id)) FROM orders t"
        )
        return digest
    finally:
        await conn.close()
