"""The orders view: one row per order (status, totals, reason) and its lines.

A batch is folded per order in memory first, over plain values (`Fact`s): one INSERT for
the orders placed in the batch together with their lines, and one UPDATE for the orders
placed earlier. Ids, money and times travel as text and PostgreSQL converts them, which
costs the projector nothing per value.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from events.subjects import ORDERS
from projections.base import Connection, qualified
from projections.facts import Fact
from read_side.tables import order_lines, orders

STATUS_OF = {
    "OrderConfirmed": "confirmed",
    "OrderRejected": "rejected",
    "OrderCancelled": "cancelled",
    "OrderShipped": "shipped",
}
_WITH_REASON = ("OrderRejected", "OrderCancelled")


@dataclass(slots=True)
class Row:
    status: str
    reason: str | None
    updated_at: str
    last_seq: int
    count: int = 1
    placed: dict[str, Any] | None = None  # the OrderPlaced body, when placed in this batch
    created_at: str | None = None
    lines: list[tuple[int, str, int, str]] = field(default_factory=list)


def _status(fact: Fact) -> tuple[str, str | None]:
    status = STATUS_OF.get(fact.type)
    if status is None:
        raise TypeError(f"not an order status change: {fact.type}")
    return status, fact.data.get("reason", "") if fact.type in _WITH_REASON else None


def fold(facts: Sequence[Fact]) -> dict[str, Row]:
    """Order id -> what the batch does to that order's row."""
    rows: dict[str, Row] = {}
    for fact in facts:
        moment = fact.occurred_at
        if fact.type == "OrderPlaced":
            placed = fact.data
            lines = [
                (number, line["sku"], line["quantity"], line["unit_price"])
                for number, line in enumerate(placed["lines"], 1)
            ]
            rows[fact.key] = Row("pending", None, moment, fact.seq, 1, placed, moment, lines)
            continue
        status, reason = _status(fact)
        row = rows.get(fact.key)
        if row is None:
            rows[fact.key] = Row(status, reason, moment, fact.seq)
        else:
            row.status, row.reason, row.updated_at = status, reason, moment
            row.last_seq, row.count = fact.seq, row.count + 1
    return rows


class OrdersProjection:
    name: str = "orders"
    stream: str = ORDERS
    tables: tuple[Table, ...] = (orders, order_lines)

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        rows = fold(facts)
        new = {order_id: row for order_id, row in rows.items() if row.placed is not None}
        changed = {order_id: row for order_id, row in rows.items() if row.placed is None}
        if new:
            await self._insert(conn, schema, new)
        if changed:
            await conn.execute(
                f"""UPDATE {qualified(schema, orders)} AS o
                SET status = c.status, reason = c.reason, updated_at = c.updated_at::timestamptz,
                    version = o.version + c.n, last_seq = c.last_seq
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[],
                            $6::bigint[])
                     AS c(order_id, status, reason, updated_at, n, last_seq)
                WHERE o.order_id = c.order_id""",
                list(changed),
                [row.status for row in changed.values()],
                [row.reason for row in changed.values()],
                [row.updated_at for row in changed.values()],
                [row.count for row in changed.values()],
                [row.last_seq for row in changed.values()],
            )

    async def _insert(self, conn: Connection, schema: str, new: dict[str, Row]) -> None:
        """The new orders and their lines in one statement (one round trip)."""
        placed = [row.placed for row in new.values() if row.placed is not None]
        lines = [(order_id, *line) for order_id, row in new.items() for line in row.lines]
        await conn.execute(
            f"""WITH placed AS (
                INSERT INTO {qualified(schema, orders)} (order_id, customer_id, status,
                    currency, total, reason, created_at, updated_at, version, last_seq)
                SELECT o, c, s, cur, t::numeric, r, ca::timestamptz, ua::timestamptz, v, ls
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::text[], $7::text[], $8::text[], $9::int[], $10::bigint[])
                    AS n(o, c, s, cur, t, r, ca, ua, v, ls)
                ON CONFLICT (order_id) DO NOTHING)
            INSERT INTO {qualified(schema, order_lines)}
                (order_id, line_no, sku, quantity, unit_price)
            SELECT o, n, s, q, p::numeric FROM unnest($11::uuid[], $12::smallint[],
                $13::text[], $14::int[], $15::text[]) AS l(o, n, s, q, p)
            ON CONFLICT DO NOTHING""",
            list(new),
            [body["customer_id"] for body in placed],
            [row.status for row in new.values()],
            [body["currency"] for body in placed],
            [body["total"] for body in placed],
            [row.reason for row in new.values()],
            [row.created_at for row in new.values()],
            [row.updated_at for row in new.values()],
            [row.count for row in new.values()],
            [row.last_seq for row in new.values()],
            *(list(column) for column in zip(*lines, strict=True)),
        )
