"""The orders view: one row per order (status, totals, reason) and its lines.

A batch is folded per order in memory first; then one INSERT for the orders placed in
the batch, one for their lines and one UPDATE for the orders placed earlier.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table

from events.codec import RecordedEvent
from events.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
)
from events.subjects import ORDERS
from projections.base import Connection, qualified
from read_side.tables import order_lines, orders


@dataclass
class _Row:
    status: str | None
    reason: str | None
    updated_at: datetime
    last_seq: int
    count: int = 1
    placed: OrderPlaced | None = None
    created_at: datetime | None = None
    lines: list[tuple[int, str, int, Decimal]] = field(default_factory=list)


def _status(event: RecordedEvent) -> tuple[str, str | None]:
    match event.event:
        case OrderConfirmed():
            return "confirmed", None
        case OrderRejected(reason=reason):
            return "rejected", reason
        case OrderCancelled(reason=reason):
            return "cancelled", reason
        case OrderShipped():
            return "shipped", None
    raise TypeError(f"not an order status change: {event.event_type}")


def fold(events: Sequence[RecordedEvent]) -> dict[UUID, _Row]:
    rows: dict[UUID, _Row] = {}
    for recorded in events:
        order_id = UUID(recorded.aggregate_id)
        moment = recorded.envelope.occurred_at
        if isinstance(recorded.event, OrderPlaced):
            placed = recorded.event
            lines = [(i, x.sku, x.quantity, x.unit_price) for i, x in enumerate(placed.lines, 1)]
            rows[order_id] = _Row("pending", None, moment, recorded.seq, 1, placed, moment, lines)
            continue
        status, reason = _status(recorded)
        row = rows.get(order_id)
        if row is None:
            rows[order_id] = _Row(status, reason, moment, recorded.seq)
        else:
            row.status, row.reason, row.updated_at = status, reason, moment
            row.last_seq, row.count = recorded.seq, row.count + 1
    return rows


class OrdersProjection:
    name: str = "orders"
    stream: str = ORDERS
    tables: tuple[Table, ...] = (orders, order_lines)

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        rows = fold(events)
        new = {order_id: row for order_id, row in rows.items() if row.placed is not None}
        changed = {order_id: row for order_id, row in rows.items() if row.placed is None}
        if new:
            await self._insert(conn, schema, new)
        if changed:
            await conn.execute(
                f"""UPDATE {qualified(schema, orders)} AS o
                SET status = c.status, reason = c.reason, updated_at = c.updated_at,
                    version = o.version + c.n, last_seq = c.last_seq
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
                            $5::int[], $6::bigint[])
                     AS c(order_id, status, reason, updated_at, n, last_seq)
                WHERE o.order_id = c.order_id""",
                list(changed),
                [row.status for row in changed.values()],
                [row.reason for row in changed.values()],
                [row.updated_at for row in changed.values()],
                [row.count for row in changed.values()],
                [row.last_seq for row in changed.values()],
            )

    async def _insert(self, conn: Connection, schema: str, new: dict[UUID, _Row]) -> None:
        """The new orders and their lines in one statement (one round trip)."""
        placed = [row.placed for row in new.values() if row.placed is not None]
        lines = [(order_id, *line) for order_id, row in new.items() for line in row.lines]
        await conn.execute(
            f"""WITH placed AS (
                INSERT INTO {qualified(schema, orders)} (order_id, customer_id, status,
                    currency, total, reason, created_at, updated_at, version, last_seq)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                    $5::numeric[], $6::text[], $7::timestamptz[], $8::timestamptz[],
                    $9::int[], $10::bigint[])
                ON CONFLICT (order_id) DO NOTHING)
            INSERT INTO {qualified(schema, order_lines)}
                (order_id, line_no, sku, quantity, unit_price)
            SELECT * FROM unnest($11::uuid[], $12::smallint[], $13::text[], $14::int[],
                $15::numeric[])
            ON CONFLICT DO NOTHING""",
            list(new),
            [event.customer_id for event in placed],
            [row.status for row in new.values()],
            [event.currency for event in placed],
            [event.total for event in placed],
            [row.reason for row in new.values()],
            [row.created_at for row in new.values()],
            [row.updated_at for row in new.values()],
            [row.count for row in new.values()],
            [row.last_seq for row in new.values()],
            *(list(column) for column in zip(*lines, strict=True)),
        )
