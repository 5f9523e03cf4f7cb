"""The data and the timed runs of the projection rows (bench.projection_rows): ORDERS and
STOCK events published, the catch-up of the real `tally project` process, `tally replay`
(the same Replay class in this process) and a raw COPY."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import asyncpg
from nats.aio.client import Client as NATS

from bench.cluster import Role
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderConfirmed, OrderLine, OrderPlaced
from events.stock import StockReceived, StockReserved
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


async def publish_stock(nc: NATS, count: int) -> None:
    """`count` STOCK events over 1,000 SKUs (200 per SKU at 200k: many events fold into
    one row): receipts and reservations, alternately."""
    js = nc.jetstream()
    pending: list[asyncio.Future[object]] = []
    for index in range(count):
        envelope = Envelope(occurred_at=T0 + timedelta(milliseconds=index))
        event = (
            StockReceived(quantity=5)
            if index % 2
            else StockReserved(order_id=str(uuid4()), quantity=1)
        )
        payload, headers = encode(event, envelope)
        subject = f"stock.SKU-{index % 1000}"
        pending.append(asyncio.ensure_future(js.publish(subject, payload, headers=headers)))
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def catch_up(nc: NATS, dsn: str, projector: Role, view: str = "orders") -> float:
    """Events/s of the paused `tally project` process from its resumption until the
    checkpoint of `view` reaches the end of its stream (published to meanwhile)."""
    stream = get_projection(view).stream
    target = (await nc.jetstream().stream_info(stream)).state.last_seq
    conn = await asyncpg.connect(dsn)
    query = "SELECT max(position) FROM projection_checkpoints WHERE name = $1"
    try:
        start = await conn.fetchval(query, view) or 0
        started = time.perf_counter()
        projector.resume()
        while (await conn.fetchval(query, view) or 0) < target:  # noqa: ASYNC110 (a bench)
            await asyncio.sleep(0.02)
        return (target - start) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def replay(nc: NATS, dsn: str, name: str, batch: int = 5000) -> float:
    """Events/s of `tally replay NAME` (the same Replay class, in this process)."""
    started = time.perf_counter()
    result = await Replay(get_projection(name), nc, dsn, batch_size=batch).run()
    elapsed = time.perf_counter() - started
    if result.comparison is not None:  # the live view was caught up: compared before the swap
        share = result.compare_seconds / elapsed
        print(
            f"  replay {name}: compared with the live view in {result.compare_seconds:.2f} s"
            f" ({share:.0%} of the replay)",
            flush=True,
        )
    return result.events / elapsed


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
