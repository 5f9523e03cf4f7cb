"""The query routes on real NATS and PostgreSQL: views, pagination, read-your-writes and
every error answer."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS

from events.base import Event
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderCancelled, OrderConfirmed
from support.query_app import query_client
from support.read_side import (
    T0,
    order_history,
    placed,
    projecting,
    publish,
    wait_position,
)

pytestmark = pytest.mark.integration
PROBLEM = "/problems/"


async def _publish_at(nc: NATS, subject: str, event: Event, seconds: int) -> int:
    envelope = Envelope(correlation_id="c", occurred_at=T0 + timedelta(seconds=seconds))
    data, headers = encode(event, envelope)
    return int((await nc.jetstream().publish(subject, data, headers=headers)).seq)


async def _pages(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_views_and_pagination_visit_every_row_once(nc: NATS, nats_url: str, db: str) -> None:
    ids = []
    for index in range(23):  # three orders per second: ties broken by order id
        order_id = str(uuid4())
        ids.append(order_id)
        last = await _publish_at(nc, f"orders.{order_id}", placed(f"c{index % 2}"), index // 3)
    last = await _publish_at(nc, f"orders.{ids[0]}", OrderConfirmed(authorization_id="a"), 99)
    await publish(nc, order_history(9)[::2])  # orders and stock, a few SKUs
    async with projecting(nc, db, "orders", "stock"), query_client(nc, nats_url, db) as client:
        orders_last = (await nc.jetstream().stream_info("ORDERS")).state.last_seq
        stock_last = (await nc.jetstream().stream_info("STOCK")).state.last_seq
        await wait_position(db, "orders", orders_last)
        await wait_position(db, "stock", stock_last)

        every = await _pages(client, "/orders", limit=4)
        assert len(every) == len({item["order_id"] for item in every}) == 23 + 5
        keys = [(item["created_at"], item["order_id"]) for item in every]
        assert keys == sorted(keys, reverse=True)  # newest first
        c0 = await _pages(client, "/orders", limit=5, customer_id="c0")
        assert {item["order_id"] for item in c0} == set(ids[0::2])
        pending = await _pages(client, "/orders", limit=3, status="pending")
        assert ids[0] not in {item["order_id"] for item in pending}

        order = (await client.get(f"/orders/{ids[0]}")).json()
        assert order["status"] == "confirmed" and order["version"] == 2
        assert order["total"] == "25.00" and order["reason"] is None
        assert order["lines"] == [{"sku": "sku-1", "quantity": 2, "unit_price": "12.50"}]
        assert order["created_at"] == "2026-01-01T00:00:00.000000Z"

        stock = await _pages(client, "/stock", limit=2)
        assert [item["sku"] for item in stock] == sorted({item["sku"] for item in stock})
        low = await _pages(client, "/stock", limit=2, max_available=10)
        assert {i["sku"] for i in low} == {i["sku"] for i in stock if i["available"] <= 10}
        one = (await client.get(f"/stock/{stock[0]['sku']}")).json()
        assert one == stock[0] and one["available"] == one["on_hand"] - one["reserved"]

        events = (await client.get(f"/orders/{ids[0]}/events")).json()["items"]
        assert [(e["type"], e["version"]) for e in events] == [
            ("OrderPlaced", 2),
            ("OrderConfirmed", 1),
        ]
        assert events[1]["seq"] == last and events[1]["data"] == {"authorization_id": "a"}
        assert (await client.get(f"/stock/{stock[0]['sku']}/events")).json()["items"]

        projections = (await client.get("/projections")).json()["items"]
        assert {(p["name"], p["position"], p["lag"]) for p in projections} == {
            ("orders", orders_last, 0),
            ("stock", stock_last, 0),
        }
        audits = {
            p["name"]: (p["applied"], p["dead"], p["ignored"], p["complete"]) for p in projections
        }
        assert audits == {"orders": (orders_last, 0, 0, True), "stock": (stock_last, 0, 0, True)}


async def test_read_your_writes(nc: NATS, nats_url: str, db: str) -> None:
    order_id = str(uuid4())
    placed_at = await publish(nc, [(f"orders.{order_id}", placed("rita"))])
    async with query_client(nc, nats_url, db) as client:
        started = time.monotonic()
        lagging = await client.get(f"/orders/{order_id}", params={"after": "ORDERS:1", "wait": 0.3})
        assert lagging.status_code == 503 and time.monotonic() - started < 1.5
        assert lagging.json()["type"] == PROBLEM + "projection-lagging"
        assert lagging.headers["retry-after"] == "1"

        async with projecting(nc, db, "orders"):
            await wait_position(db, "orders", placed_at)
            waiting = asyncio.create_task(
                client.get(f"/orders/{order_id}", params={"after": f"ORDERS:{placed_at + 1}"})
            )
            await asyncio.sleep(0.2)
            assert not waiting.done()  # waits for the write, woken by the notification
            cancelled = OrderCancelled(reason="too slow")
            seq = await publish(nc, [(f"orders.{order_id}", cancelled)], start=1)
            answer = await asyncio.wait_for(waiting, 5)
        assert seq == placed_at + 1
        assert answer.status_code == 200
        assert answer.json()["status"] == "cancelled" and answer.json()["reason"] == "too slow"


async def test_error_answers(nc: NATS, nats_url: str, db: str) -> None:
    cases: list[tuple[str, dict[str, str | list[str]], str]] = [
        ("/orders", {"limit": "0"}, "limit"),
        ("/orders", {"limit": "501"}, "limit"),
        ("/orders", {"limit": "many"}, "limit"),
        ("/orders", {"status": "lost"}, "status"),
        ("/orders", {"cursor": "!!!"}, "cursor"),
        ("/stock", {"cursor": "WyJvIiwieCJd"}, "cursor"),
        ("/orders", {"after": "ORDERS"}, "after"),
        ("/orders", {"after": "ORDERS:1", "wait": "31"}, "wait"),
        ("/orders", {"limit": ["1", "2"]}, "limit"),
        ("/stock", {"max_available": "x"}, "max_available"),
        ("/stock/no.dots", {}, "sku"),
    ]
    async with query_client(nc, nats_url, db) as client:
        for path, params, field in cases:
            answer = await client.get(path, params=params)
            assert answer.status_code == 422, (path, params, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            body = answer.json()
            assert body["type"] == PROBLEM + "validation-failed" and body["status"] == 422
            assert [error["field"] for error in body["errors"]] == [field], body

        for path in (f"/orders/{uuid4()}", "/orders/not-a-uuid", "/stock/nothing-here"):
            answer = await client.get(path)
            assert answer.status_code == 404 and answer.json()["type"] == PROBLEM + "not-found"
        assert (await client.get(f"/orders/{uuid4()}/events")).status_code == 404

        wrong = await client.get("/orders", params={"after": "STOCK:1"})
        assert wrong.status_code == 400, wrong.text
        assert wrong.json()["type"] == PROBLEM + "position-of-another-stream"
        assert (await client.get("/stock/a", params={"after": "ORDERS:1"})).status_code == 400
