"""The query routes over partitioned views (3 partitions per stream, a projector each):
read-your-writes waits for the aggregate's partition (a list: every partition), `/events`
and `as_of` read the stored subject, GET /projections shows each partition."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from events.orders import OrderCancelled, OrderConfirmed
from events.partitions import Layout
from events.stock import StockReceived
from projections.consumers import ensure_view_consumers
from projections.partitions import projectors_of
from projections.registry import get_projection
from projections.replay import Replay
from projections.runner import Projector
from support.query_app import query_client
from support.read_side import FAST, placed, publish
from tally.database_url import asyncpg_dsn
from write_side.streams import StreamSettings, ensure_streams

pytestmark = pytest.mark.integration
PARTITIONS = 3
LAYOUT = Layout({"ORDERS": PARTITIONS, "STOCK": PARTITIONS})


@pytest.fixture
async def partitioned(nc: NATS) -> NATS:
    await ensure_streams(nc.jetstream(), StreamSettings(partitions=PARTITIONS))
    for name in ("orders", "stock"):
        await ensure_view_consumers(nc.jetstream(), get_projection(name), LAYOUT)
    return nc


@contextlib.asynccontextmanager
async def projecting(nc: NATS, db: str) -> AsyncIterator[None]:
    """A projector per partition of both views."""
    stop = asyncio.Event()
    chosen = [p for n in ("orders", "stock") for p in projectors_of(get_projection(n), LAYOUT)]
    tasks = [asyncio.create_task(Projector(p, nc, db, FAST).run(stop)) for p in chosen]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


async def test_queries_over_partitioned_views(partitioned: NATS, nats_url: str, db: str) -> None:
    nc = partitioned
    ids = [str(uuid4()) for _ in range(6)]
    for index, order_id in enumerate(ids):
        await publish(nc, [(f"orders.{order_id}", placed(f"c{index}"))], start=index)
    await publish(nc, [("stock.sku-p", StockReceived(quantity=5))])
    async with projecting(nc, db), query_client(nc, nats_url, db) as client:
        first = await client.get(f"/orders/{ids[-1]}", params={"after": f"ORDERS:{len(ids)}"})
        assert first.status_code == 200, first.text
        for order_id in ids:  # each in its own partition's time
            seq = await publish(nc, [(f"orders.{order_id}", OrderConfirmed(authorization_id="a"))])
            answer = await client.get(f"/orders/{order_id}", params={"after": f"ORDERS:{seq}"})
            assert answer.status_code == 200 and answer.json()["status"] == "confirmed"
        last = await publish(nc, [(f"orders.{ids[0]}", OrderCancelled(reason="r"))], start=9)
        page = await client.get("/orders", params={"after": f"ORDERS:{last}", "limit": 10})
        assert page.status_code == 200, page.text
        statuses = {item["order_id"]: item["status"] for item in page.json()["items"]}
        assert statuses[ids[0]] == "cancelled" and len(statuses) == len(ids)

        events = (await client.get(f"/orders/{ids[0]}/events")).json()["items"]
        assert [e["type"] for e in events] == ["OrderPlaced", "OrderConfirmed", "OrderCancelled"]
        now = (await client.get(f"/orders/{ids[0]}")).json()
        then = (await client.get(f"/orders/{ids[0]}", params={"as_of": f"ORDERS:{last}"})).json()
        assert then.pop("as_of") == f"ORDERS:{last}" and then == now
        stock = (await client.get("/stock/sku-p", params={"as_of": "STOCK:1"})).json()
        assert (stock["on_hand"], stock["as_of"]) == (5, "STOCK:1")

        items = (await client.get("/projections")).json()["items"]
        assert sorted((i["name"], i["partition"]) for i in items) == sorted(
            (name, p) for name in ("orders", "stock") for p in range(PARTITIONS)
        )


async def test_no_cached_row_of_the_old_view_after_a_replays_swap(
    partitioned: NATS, nats_url: str, db: str
) -> None:
    """The API's row cache (read_side/row_cache.py) holds a row of each partition that
    the stream does not say; the replay's swap replaces the view: no GET answers the old
    row after it."""
    nc = partitioned
    ids = [str(uuid4()) for _ in range(PARTITIONS * 2)]
    for index, order_id in enumerate(ids):
        last = await publish(nc, [(f"orders.{order_id}", placed(f"c{index}"))], start=index)
    async with projecting(nc, db), query_client(nc, nats_url, db) as client:
        answer = await client.get(f"/orders/{ids[0]}", params={"after": f"ORDERS:{last}"})
        assert answer.status_code == 200, answer.text
        owner = await asyncpg.connect(asyncpg_dsn(db))
        try:  # the old view's rows, changed behind the projector's back (no notification)
            async with asyncio.timeout(10):  # `after` waited for ids[0]'s partition only
                while await owner.fetchval("SELECT count(*) FROM orders") < len(ids):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await owner.execute("UPDATE orders SET status = 'shipped'")
        finally:
            await owner.close()
        for _ in range(2):  # read, then cached
            for order_id in ids:
                assert (await client.get(f"/orders/{order_id}")).json()["status"] == "shipped"
        await Replay(get_projection("orders"), nc, db).run()
        await asyncio.sleep(0.1)  # its notifications' delivery (the replay is another process)
        for order_id in ids:
            assert (await client.get(f"/orders/{order_id}")).json()["status"] == "pending"
