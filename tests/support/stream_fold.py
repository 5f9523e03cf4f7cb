"""The fault suite's own reading of the streams: every stored message, decoded by the
event codec, folded into the views the projections should hold, written here again so
that a projection bug cannot hide behind its own fold; and the views as PostgreSQL has them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from nats.aio.client import Client as NATS

from chaos.streams import stream_messages
from events.codec import DecodeError, RecordedEvent, decode
from support.read_side import connect

OrderRow = tuple[str, str, Decimal, str | None, int, int]  # customer, status, total, reason, ...
StockRow = tuple[int, int, int, int]  # on_hand, reserved, version, last_seq


@dataclass
class StreamRead:
    events: list[RecordedEvent]
    poison: list[int]  # sequences of messages that are not valid events
    last_seq: int


async def read_stream(nc: NATS, stream: str, timeout: float = 60) -> StreamRead:
    """Every message of `stream` up to its current last sequence, in order (read on past a
    consumer that a NATS cluster cannot reach for a moment: chaos.streams.stream_messages)."""
    last = (await nc.jetstream().stream_info(stream)).state.last_seq
    read = StreamRead([], [], last)
    async with asyncio.timeout(timeout):
        async for message in stream_messages(nc, stream, last):
            seq = message.metadata.sequence.stream
            headers = message.headers or {}
            try:
                event = decode(
                    message.data, headers, stream=stream, seq=seq, subject=message.subject
                )
            except DecodeError:
                read.poison.append(seq)
                continue
            read.events.append(event)
    return read


_STATUS = {
    "OrderPlaced": "pending",
    "OrderConfirmed": "confirmed",
    "OrderRejected": "rejected",
    "OrderCancelled": "cancelled",
    "OrderShipped": "shipped",
}


def fold_orders(events: list[RecordedEvent]) -> dict[str, OrderRow]:
    """order id -> (customer_id, status, total, reason, version, last_seq)."""
    rows: dict[str, OrderRow] = {}
    for recorded in events:
        data: dict[str, Any] = recorded.event.model_dump()
        name = recorded.event_type
        order = recorded.aggregate_id
        if name == "OrderPlaced":
            total = Decimal(str(data["total"]))
            rows[order] = (data["customer_id"], "pending", total, None, 1, recorded.seq)
            continue
        customer, _, total, _, version, _ = rows[order]
        reason = data.get("reason") if name in ("OrderRejected", "OrderCancelled") else None
        rows[order] = (customer, _STATUS[name], total, reason, version + 1, recorded.seq)
    return rows


_STOCK_CHANGE = {
    "StockReceived": (1, 0),
    "StockAdjusted": (1, 0),
    "StockReserved": (0, 1),
    "StockReservationReleased": (0, -1),
    "StockShipped": (-1, -1),
}


def fold_stock(events: list[RecordedEvent]) -> tuple[dict[str, StockRow], list[str]]:
    """sku -> (on_hand, reserved, version, last_seq), and every position where the
    invariant 0 <= reserved <= on_hand does not hold (SPEC §1)."""
    rows: dict[str, StockRow] = {}
    broken: list[str] = []
    for recorded in events:
        data: dict[str, Any] = recorded.event.model_dump()
        amount = int(data.get("quantity", data.get("delta", 0)))
        on_hand_sign, reserved_sign = _STOCK_CHANGE[recorded.event_type]
        on_hand, reserved, version, _ = rows.get(recorded.aggregate_id, (0, 0, 0, 0))
        on_hand += on_hand_sign * amount
        reserved += reserved_sign * amount
        rows[recorded.aggregate_id] = (on_hand, reserved, version + 1, recorded.seq)
        if not 0 <= reserved <= on_hand:
            broken.append(f"{recorded.subject}@{recorded.seq}: {reserved=} {on_hand=}")
    return rows, broken


async def view_orders(database_url: str) -> dict[str, OrderRow]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        records = await conn.fetch(
            "SELECT order_id, customer_id, status, total, reason, version, last_seq FROM orders"
        )
    finally:
        await conn.close()
    return {str(r[0]): (r[1], r[2], r[3], r[4], r[5], r[6]) for r in records}


async def view_stock(database_url: str) -> dict[str, StockRow]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        records = await conn.fetch(
            "SELECT sku, on_hand, reserved, version, last_seq FROM stock_items"
        )
    finally:
        await conn.close()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in records}


async def checkpoints(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        records = await conn.fetch("SELECT name, position FROM projection_checkpoints")
    finally:
        await conn.close()
    return {r[0]: int(r[1]) for r in records}


async def audit_counters(database_url: str) -> dict[str, tuple[int, int, int, int]]:
    """Checkpoint name -> (applied, dead, ignored, position - counted_from): the completeness
    audit holds when the first three add up to the last."""
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        records = await conn.fetch(
            "SELECT name, applied, dead, ignored, position - counted_from AS span"
            " FROM projection_checkpoints"
        )
    finally:
        await conn.close()
    return {r["name"]: (r["applied"], r["dead"], r["ignored"], r["span"]) for r in records}


def incomplete(counters: dict[str, tuple[int, int, int, int]]) -> dict[str, tuple[int, ...]]:
    """The rows whose counters do not add up to their position."""
    return {name: row for name, row in counters.items() if sum(row[:3]) != row[3]}


async def converged(nats_url: str, database_url: str, timeout: float = 60) -> float:
    """Waits until no order is pending and both views hold the whole stream."""
    started = time.monotonic()
    nc = await connect(nats_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                orders = await read_stream(nc, "ORDERS")
                stock_last = (await nc.jetstream().stream_info("STOCK")).state.last_seq
                done = await checkpoints(database_url)
                pending = [o for o in fold_orders(orders.events).values() if o[1] == "pending"]
                if not pending and done == {"orders": orders.last_seq, "stock": stock_last}:
                    return time.monotonic() - started
                await asyncio.sleep(0.3)
    finally:
        await nc.close()


def differences(expected: dict[str, Any], actual: dict[str, Any], limit: int = 5) -> list[str]:
    """A few keys where the two views disagree, for an assertion message."""
    keys = sorted(set(expected) | set(actual))
    wrong = [k for k in keys if expected.get(k) != actual.get(k)]
    return [f"{k}: fold {expected.get(k)} view {actual.get(k)}" for k in wrong[:limit]] + (
        [f"... {len(wrong)} in all"] if len(wrong) > limit else []
    )
