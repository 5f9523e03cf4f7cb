"""View rows for the query benchmarks, written straight into the read models (as the
projectors would leave them), so that a GET measure needs neither NATS traffic nor a
projector run: orders of a few customers with two lines each, stock items, checkpoints.

The GET paths that the bench rows and `bench.api_cpu` drive are made here too, so that
both measure the same requests.
"""

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

CUSTOMERS = 20
CHECKPOINT = 1_000  # both projections "have applied" this position


async def seed_views(dsn: str, orders: int = 1000, skus: int = 1000) -> list[str]:
    """Writes `orders` orders and `skus` stock items; returns the order ids."""
    rng = random.Random(13)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(orders)]
    lines = {
        order_id: json.dumps(
            [
                {"sku": f"SKU-{rng.randint(1, skus)}", "quantity": line + 1, "unit_price": "8.00"}
                for line in (1, 2)
            ]
        )
        for order_id in ids
    }
    order_rows = [
        (
            order_id,
            f"customer-{n % CUSTOMERS}",
            "confirmed",
            "EUR",
            "26.00",
            start + timedelta(seconds=n),
            lines[order_id],
        )
        for n, order_id in enumerate(ids)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO orders (order_id, customer_id, status, currency, total, reason,"
                " created_at, updated_at, version, last_seq, lines)"
                " VALUES ($1, $2, $3, $4, $5::numeric, NULL, $6, $6, 3, 1, $7::text::jsonb)",
                order_rows,
            )
            await conn.executemany(
                "INSERT INTO stock_items (sku, on_hand, reserved, version, updated_at, last_seq)"
                " VALUES ($1, 1000, $2, 2, $3, 1)",
                [(f"SKU-{n}", n % 100, start) for n in range(1, skus + 1)],
            )
            await conn.executemany(
                "INSERT INTO projection_checkpoints (name, stream, position) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET position = GREATEST("
                " projection_checkpoints.position, EXCLUDED.position)",
                [("orders", "ORDERS", CHECKPOINT), ("stock", "STOCK", CHECKPOINT)],
            )
    finally:
        await conn.close()
    return [str(order_id) for order_id in ids]


def get_paths(order_ids: list[str], skus: int = 1000) -> dict[str, list[str]]:
    """The paths of each GET measure, by measure key."""
    return {
        "get": [f"/orders/{order_id}" for order_id in order_ids],
        "get_after": [f"/orders/{order_id}?after=ORDERS:{CHECKPOINT}" for order_id in order_ids],
        "get_stock": [f"/stock/SKU-{n}" for n in range(1, skus + 1)],
        "list_orders": [f"/orders?customer_id=customer-{n}&limit=50" for n in range(CUSTOMERS)],
        "list_stock": ["/stock?limit=100"],
    }
