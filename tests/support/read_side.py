"""Helpers for the read-side tests: publishing events, running projectors, reading views."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import nats
from nats.aio.client import Client as NATS

from events.base import Event
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced, OrderRejected
from events.stock import StockReceived, StockReserved
from projections.batch import Retry
from projections.consumers import ensure_projection_consumer
from projections.dlq import ensure_dlq_stream
from projections.registry import get_projection
from projections.runner import Projector, ProjectorSettings
from write_side.streams import StreamSettings, ensure_streams

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def connect(url: str) -> NATS:
    async def quiet(error: Exception) -> None:
        pass

    return await nats.connect(
        url, connect_timeout=2, max_reconnect_attempts=-1, reconnect_time_wait=0.2, error_cb=quiet
    )


async def ready_streams(nc: NATS) -> None:
    await ensure_streams(nc.jetstream(), StreamSettings())


def envelope(index: int) -> Envelope:
    return Envelope(correlation_id=f"c-{index}", occurred_at=T0 + timedelta(seconds=index))


async def publish(nc: NATS, items: Sequence[tuple[str, Event]], start: int = 0) -> int:
    """Publish (subject, event) pairs in order; returns the last stream sequence."""
    js = nc.jetstream()
    seq = 0
    for index, (subject, event) in enumerate(items, start):
        data, headers = encode(event, envelope(index))
        seq = (await js.publish(subject, data, headers=headers)).seq
    return seq


def placed(customer: str = "alice", *lines: tuple[str, int, str]) -> OrderPlaced:
    chosen = lines or (("sku-1", 2, "12.50"),)
    order_lines = tuple(OrderLine(sku=s, quantity=q, unit_price=Decimal(p)) for s, q, p in chosen)
    total = sum((line.unit_price * line.quantity for line in order_lines), Decimal(0))
    return OrderPlaced(customer_id=customer, currency="EUR", lines=order_lines, total=total)


def order_history(count: int) -> list[tuple[str, Event]]:
    """`count` orders in mixed states, and stock movements for a few SKUs."""
    items: list[tuple[str, Event]] = []
    for index in range(count):
        order_id = str(uuid4())
        subject = f"orders.{order_id}"
        items.append((subject, placed(f"customer-{index % 3}", ("sku-1", 1 + index % 4, "3.10"))))
        if index % 4 == 1:
            items.append((subject, OrderConfirmed(authorization_id=f"auth-{index}")))
        elif index % 4 == 2:
            items.append((subject, OrderRejected(reason="out_of_stock", detail="none left")))
        elif index % 4 == 3:
            items.append((subject, OrderCancelled(reason=f"changed my mind {index}")))
        sku = f"sku-{index % 5}"
        items.append((f"stock.{sku}", StockReceived(quantity=10 + index)))
        items.append((f"stock.{sku}", StockReserved(order_id=order_id, quantity=1)))
    return items


FAST = ProjectorSettings(batch_size=100, retry=Retry(attempts=3, backoff=0.01), max_backoff=0.5)


@contextlib.asynccontextmanager
async def projecting(
    nc: NATS, database_url: str, *names: str, settings: ProjectorSettings = FAST, **kw: Any
) -> AsyncIterator[list[Projector]]:
    """The projectors `names` running (their consumers and the dead letters made first,
    as `tally migrate` does)."""
    stop = asyncio.Event()
    await ensure_dlq_stream(nc.jetstream())
    for name in names:
        await ensure_projection_consumer(nc.jetstream(), get_projection(name))
    projectors = [Projector(get_projection(n), nc, database_url, settings, **kw) for n in names]
    tasks = [asyncio.create_task(projector.run(stop)) for projector in projectors]
    try:
        yield projectors
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


async def position(database_url: str, name: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        value = await conn.fetchval(
            "SELECT position FROM projection_checkpoints WHERE name = $1", name
        )
        return int(value or 0)
    finally:
        await conn.close()


async def wait_position(database_url: str, name: str, seq: int, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while await position(database_url, name) < seq:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.05)


async def rows(database_url: str, table: str, order_by: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        records = await conn.fetch(f"SELECT * FROM {table} ORDER BY {order_by}")
        return [tuple(record) for record in records]
    finally:
        await conn.close()


async def view_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "orders": await rows(database_url, "orders", "order_id"),
        "stock_items": await rows(database_url, "stock_items", "sku"),
    }


def order_ids(items: Sequence[tuple[str, Event]]) -> list[UUID]:
    return [UUID(s.split(".")[1]) for s, e in items if isinstance(e, OrderPlaced)]
