"""Query functions: SELECT only, keyset pagination, answers as JSON-ready dicts (money as
decimal strings, times in RFC 3339 UTC)."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from events.envelope import format_timestamp
from read_side.cursors import order_cursor, stock_cursor
from read_side.tables import order_lines, orders, projection_checkpoints, stock_items

JsonObject = dict[str, Any]


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _order(row: Row[Any], lines: Sequence[Row[Any]]) -> JsonObject:
    return {
        "order_id": str(row.order_id),
        "customer_id": row.customer_id,
        "status": row.status,
        "currency": row.currency,
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "unit_price": _money(line.unit_price)}
            for line in lines
        ],
        "total": _money(row.total),
        "reason": row.reason,
        "created_at": format_timestamp(row.created_at),
        "updated_at": format_timestamp(row.updated_at),
        "version": row.version,
    }


async def _lines(conn: AsyncConnection, ids: list[UUID]) -> dict[UUID, list[Row[Any]]]:
    found: dict[UUID, list[Row[Any]]] = {order_id: [] for order_id in ids}
    if ids:
        query = (
            select(order_lines)
            .where(order_lines.c.order_id.in_(ids))
            .order_by(order_lines.c.order_id, order_lines.c.line_no)
        )
        for line in await conn.execute(query):
            found[line.order_id].append(line)
    return found


async def get_order(conn: AsyncConnection, order_id: UUID) -> JsonObject | None:
    row = (await conn.execute(select(orders).where(orders.c.order_id == order_id))).first()
    if row is None:
        return None
    return _order(row, (await _lines(conn, [order_id]))[order_id])


# GET /orders/{id} on the hot path: the order and its lines in one statement (one snapshot,
# tables locked parent then child as in the two-SELECT form), straight on the driver:
# one round trip after the pool's ping instead of BEGIN, two SELECTs and ROLLBACK.
ORDER_BY_ID = """
SELECT o.order_id, o.customer_id, o.status, o.currency, o.total, o.reason, o.created_at,
       o.updated_at, o.version,
       ARRAY(SELECT l.sku FROM order_lines l WHERE l.order_id = o.order_id ORDER BY l.line_no),
       ARRAY(SELECT l.quantity FROM order_lines l WHERE l.order_id = o.order_id
             ORDER BY l.line_no),
       ARRAY(SELECT l.unit_price FROM order_lines l WHERE l.order_id = o.order_id
             ORDER BY l.line_no)
FROM orders o WHERE o.order_id = $1
"""


async def get_order_direct(driver: Any, order_id: UUID) -> JsonObject | None:
    """As get_order, on an asyncpg connection outside any transaction."""
    row = await driver.fetchrow(ORDER_BY_ID, order_id)
    if row is None:
        return None
    (oid, customer, status, currency, total, reason, created, updated, version) = row[:9]
    skus, quantities, prices = row[9], row[10], row[11]
    return {
        "order_id": str(oid),
        "customer_id": customer,
        "status": status,
        "currency": currency,
        "lines": [
            {"sku": sku, "quantity": quantity, "unit_price": _money(price)}
            for sku, quantity, price in zip(skus, quantities, prices, strict=True)
        ],
        "total": _money(total),
        "reason": reason,
        "created_at": format_timestamp(created),
        "updated_at": format_timestamp(updated),
        "version": version,
    }


async def list_orders(
    conn: AsyncConnection,
    *,
    limit: int,
    status: str | None = None,
    customer_id: str | None = None,
    before: tuple[datetime, UUID] | None = None,
) -> tuple[list[JsonObject], str | None]:
    """Newest first by placement time; `before` is the last row of the previous page."""
    query = select(orders).order_by(orders.c.created_at.desc(), orders.c.order_id.desc())
    if status is not None:
        query = query.where(orders.c.status == status)
    if customer_id is not None:
        query = query.where(orders.c.customer_id == customer_id)
    if before is not None:
        query = query.where(tuple_(orders.c.created_at, orders.c.order_id) < tuple_(*before))
    page = list(await conn.execute(query.limit(limit + 1)))
    more, page = len(page) > limit, page[:limit]
    lines = await _lines(conn, [row.order_id for row in page])
    items = [_order(row, lines[row.order_id]) for row in page]
    last = page[-1] if page else None
    return items, order_cursor(last.created_at, last.order_id) if more and last else None


def _stock(row: Row[Any]) -> JsonObject:
    return {
        "sku": row.sku,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "available": row.on_hand - row.reserved,
        "version": row.version,
    }


async def get_stock(conn: AsyncConnection, sku: str) -> JsonObject | None:
    row = (await conn.execute(select(stock_items).where(stock_items.c.sku == sku))).first()
    return _stock(row) if row is not None else None


async def list_stock(
    conn: AsyncConnection,
    *,
    limit: int,
    max_available: int | None = None,
    after_sku: str | None = None,
) -> tuple[list[JsonObject], str | None]:
    """By SKU; `after_sku` is the last SKU of the previous page."""
    query = select(stock_items).order_by(stock_items.c.sku)
    if max_available is not None:
        query = query.where(stock_items.c.on_hand - stock_items.c.reserved <= max_available)
    if after_sku is not None:
        query = query.where(stock_items.c.sku > after_sku)
    page = list(await conn.execute(query.limit(limit + 1)))
    more, page = len(page) > limit, page[:limit]
    return [_stock(row) for row in page], stock_cursor(page[-1].sku) if more and page else None


async def checkpoint(conn: AsyncConnection, name: str) -> int:
    query = select(projection_checkpoints.c.position).where(projection_checkpoints.c.name == name)
    return int((await conn.execute(query)).scalar() or 0)


async def checkpoints(conn: AsyncConnection) -> dict[str, tuple[str, int, str]]:
    """name -> (stream, position, state) of every projection that has run."""
    query = select(
        projection_checkpoints.c.name,
        projection_checkpoints.c.stream,
        projection_checkpoints.c.position,
        projection_checkpoints.c.state,
    )
    return {row.name: (row.stream, row.position, row.state) for row in await conn.execute(query)}
