"""The query rows of `python -m bench`: a wrk script per GET measure, over rows the views
hold once everything has settled (a miss would be a 404, which wrk reports as an error).

Each is measured against the trivial Starlette GET of the same run; the `after=` row asks
for the position the orders view has applied, so it measures what read-your-writes costs
when the process already knows the answer (against the plain GET of the same ids).
"""

import asyncpg

# measure key -> the row's name (the connection count is added by the caller)
QUERY_ROWS = {
    "get": "GET /orders/{id}",
    "get_after": "GET /orders/{id}?after= (applied)",
    "get_stock": "GET /stock/{sku}",
    "list_orders": "GET /orders?customer_id=…&limit=50",
    "list_stock": "GET /stock?limit=100",
}


def paths_script(paths: list[str]) -> str:
    """A wrk script that GETs one of `paths` at random per request."""
    table = ",".join(f'"{path}"' for path in paths)
    return f"""
paths = {{{table}}}
request = function()
  return wrk.format("GET", paths[math.random(1, #paths)])
end
"""


async def orders_held(dsn: str) -> int:
    """How many orders the orders view holds (none: the GET rows need some placed)."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM orders"))
    finally:
        await conn.close()


async def query_scripts(dsn: str, limit: int = 1000) -> dict[str, str]:
    """Measure key -> wrk script, from what the views hold now."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = [r[0] for r in await conn.fetch("SELECT order_id::text FROM orders LIMIT $1", limit)]
        skus = [r[0] for r in await conn.fetch("SELECT sku FROM stock_items LIMIT $1", limit)]
        customer = await conn.fetchval(
            "SELECT customer_id FROM orders GROUP BY customer_id ORDER BY count(*) DESC LIMIT 1"
        )
        applied = await conn.fetchval(
            "SELECT position FROM projection_checkpoints WHERE name = 'orders'"
        )
    finally:
        await conn.close()
    return {
        "get": paths_script([f"/orders/{order_id}" for order_id in ids]),
        "get_after": paths_script([f"/orders/{i}?after=ORDERS:{applied}" for i in ids]),
        "get_stock": paths_script([f"/stock/{sku}" for sku in skus]),
        "list_orders": paths_script([f"/orders?customer_id={customer}&limit=50"]),
        "list_stock": paths_script(["/stock?limit=100"]),
    }
