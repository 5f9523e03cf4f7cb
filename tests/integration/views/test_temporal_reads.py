"""Reads as of a point (`?as_of=`), on real NATS and PostgreSQL: at every position of a
50-event history the answer equals an independent fold of the events up to there; for
randomly generated histories (Hypothesis) the answer at the current position equals the
live view the projector built; times, and every error answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NATS

from events.base import Event
from events.codec import RecordedEvent, decode
from events.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
)
from events.stock import (
    StockAdjusted,
    StockReceived,
    StockReservationReleased,
    StockReserved,
    StockShipped,
)
from support.query_app import query_client
from support.read_side import placed, projecting, publish, wait_position
from support.stream_fold import fold_orders

pytestmark = pytest.mark.integration
PROBLEM = "/problems/"


@pytest.fixture
async def client(nc: NATS, nats_url: str, db: str) -> AsyncIterator[httpx.AsyncClient]:
    async with query_client(nc, nats_url, db) as answering:
        yield answering


async def _published(nc: NATS, items: list[tuple[str, Event]]) -> list[RecordedEvent]:
    """Publish `items` in order; each as it was stored (sequence, subject, decoded)."""
    js = nc.jetstream()
    stored = []
    first = await publish(nc, items[:1])
    await publish(nc, items[1:], start=1)
    stream = "ORDERS" if items[0][0].startswith("orders.") else "STOCK"
    last = (await js.stream_info(stream)).state.last_seq
    for seq in range(first, last + 1):
        message = await js.get_msg(stream, seq)
        subject = message.subject or ""
        stored.append(
            decode(
                message.data or b"", message.headers or {}, stream=stream, seq=seq, subject=subject
            )
        )
    return stored


def _order_history() -> list[tuple[str, Event]]:
    """50 ORDERS events: 20 orders, interleaved, each placed then changed 0-3 times."""
    changes: list[Event] = [
        OrderConfirmed(authorization_id="auth"),
        OrderShipped(),
        OrderRejected(reason="out_of_stock", detail="none left"),
        OrderCancelled(reason="changed my mind"),
    ]
    queues: list[list[tuple[str, Event]]] = []
    for index in range(20):
        subject = f"orders.{uuid4()}"
        lines = (("sku-a", 1 + index % 3, "3.10"), ("sku-b", 2, f"{index}.05"))
        events: list[Event] = [placed(f"customer-{index}", *lines[: 1 + index % 2])]
        events += [changes[(index + step) % 4] for step in range(index % 4)]
        queues.append([(subject, event) for event in events])
    items: list[tuple[str, Event]] = []
    while any(queues):  # round robin: each order's events stay in order
        for queue in queues:
            if queue:
                items.append(queue.pop(0))
    assert len(items) == 50, len(items)
    return items


async def test_as_of_every_position_of_a_history_equals_the_fold_there(
    nc: NATS, client: httpx.AsyncClient
) -> None:
    """At each position: the order the event there belongs to shows it, and the order of
    the next event does not show that one yet (404 if it is its placement)."""
    stored = await _published(nc, _order_history())
    for index, event in enumerate(stored):
        expected = fold_orders(stored[: index + 1])
        following = stored[index + 1 : index + 2]
        for order_id in dict.fromkeys(e.aggregate_id for e in [event, *following]):
            position = f"ORDERS:{event.seq}"
            answer = await client.get(f"/orders/{order_id}", params={"as_of": position})
            if order_id not in expected:
                assert answer.status_code == 404, answer.text
                assert answer.json()["type"] == PROBLEM + "not-found"
                continue
            assert answer.status_code == 200, answer.text
            body = answer.json()
            customer, status, total, reason, version, last_seq = expected[order_id]
            assert body["customer_id"] == customer and Decimal(body["total"]) == total
            assert (body["status"], body["reason"], body["version"]) == (status, reason, version)
            assert body["as_of"] == f"ORDERS:{last_seq}" and body["order_id"] == order_id


async def test_as_of_a_time_folds_what_was_stored_by_then(
    nc: NATS, client: httpx.AsyncClient
) -> None:
    order_id, sku = str(uuid4()), f"sku-{uuid4().hex[:8]}"
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    await asyncio.sleep(0.01)
    placed_at = await publish(nc, [(f"orders.{order_id}", placed("tim"))])
    received = await publish(nc, [(f"stock.{sku}", StockReceived(quantity=7))])
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await publish(nc, [(f"orders.{order_id}", OrderCancelled(reason="late"))], start=1)
    await publish(nc, [(f"stock.{sku}", StockReserved(order_id=order_id, quantity=3))], start=1)

    def moment(at: datetime) -> str:
        return at.isoformat().replace("+00:00", "Z")

    early = await client.get(f"/orders/{order_id}", params={"as_of": moment(before)})
    assert early.status_code == 404, early.text
    then = (await client.get(f"/orders/{order_id}", params={"as_of": moment(between)})).json()
    assert (then["status"], then["version"], then["as_of"]) == ("pending", 1, f"ORDERS:{placed_at}")
    offset = between.astimezone(datetime.now().astimezone().tzinfo).isoformat()  # any offset
    stock = (await client.get(f"/stock/{sku}", params={"as_of": offset})).json()
    assert stock == {
        "sku": sku,
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
        "version": 1,
        "as_of": f"STOCK:{received}",
    }
    later = moment(datetime.now(UTC) + timedelta(days=1))
    now = (await client.get(f"/stock/{sku}", params={"as_of": later})).json()
    assert (now["reserved"], now["available"], now["version"]) == (3, 4, 2)


async def test_as_of_error_answers(nc: NATS, client: httpx.AsyncClient) -> None:
    order_id = str(uuid4())
    seq = await publish(nc, [(f"orders.{order_id}", placed("eve"))])
    path = f"/orders/{order_id}"
    assert (await client.get(path, params={"as_of": f"ORDERS:{seq}"})).status_code == 200
    for params, status, code in [
        ({"as_of": f"ORDERS:{seq - 1}"}, 404, "not-found"),  # not placed yet
        ({"as_of": "ORDERS:0"}, 404, "not-found"),
        ({"as_of": "STOCK:1"}, 400, "position-of-another-stream"),
        ({"as_of": f"ORDERS:{seq}", "after": f"ORDERS:{seq}"}, 400, "as-of-with-after"),
        ({"as_of": "ORDERS:x"}, 422, "validation-failed"),
        ({"as_of": "yesterday"}, 422, "validation-failed"),
        ({"as_of": "2026-13-01T00:00:00Z"}, 422, "validation-failed"),
        ({"as_of": "2026-11-30T10:00:00"}, 422, "validation-failed"),  # no offset
    ]:
        answer = await client.get(path, params=params)
        assert answer.status_code == status, (params, answer.text)
        assert answer.json()["type"] == PROBLEM + code, (params, answer.text)
    assert (await client.get("/stock/nothing", params={"as_of": "STOCK:1"})).status_code == 404
    other = await client.get("/stock/nothing", params={"as_of": "ORDERS:1"})
    assert other.status_code == 400


# Random histories: orders placed and changed in any order of statuses (the fold does not
# judge transitions), stock moved by every kind of event, the aggregates interleaved.
PRICES = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
LINES = st.lists(
    st.tuples(st.sampled_from(["sku-a", "sku-b", "sku-c"]), st.integers(1, 500), PRICES),
    min_size=1,
    max_size=3,
)
CHANGES = st.lists(
    st.sampled_from(
        [
            OrderConfirmed(authorization_id="auth"),
            OrderShipped(),
            OrderRejected(reason="payment_declined", detail="no"),
            OrderCancelled(reason="a reason"),
        ]
    ),
    max_size=3,
)
STOCK_EVENTS = st.lists(
    st.one_of(
        st.builds(StockReceived, quantity=st.integers(1, 1000)),
        st.builds(StockAdjusted, delta=st.integers(-50, 50).filter(bool), reason=st.just("count")),
        st.builds(StockReserved, order_id=st.just(str(uuid4())), quantity=st.integers(1, 9)),
        st.builds(
            StockReservationReleased, order_id=st.just(str(uuid4())), quantity=st.integers(1, 9)
        ),
        st.builds(StockShipped, order_id=st.just(str(uuid4())), quantity=st.integers(1, 9)),
    ),
    min_size=1,
    max_size=6,
)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, Event]]:
    queues: list[list[tuple[str, Event]]] = []
    for _ in range(draw(st.integers(1, 3))):
        lines = tuple(
            OrderLine(sku=sku, quantity=quantity, unit_price=price)
            for sku, quantity, price in draw(LINES)
        )
        total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
        first = OrderPlaced(customer_id="c", currency="EUR", lines=lines, total=total)
        subject = f"orders.{uuid4()}"
        queues.append([(subject, event) for event in [first, *draw(CHANGES)]])
    for _ in range(draw(st.integers(1, 2))):
        subject = f"stock.sku-{uuid4().hex[:12]}"
        queues.append([(subject, event) for event in draw(STOCK_EVENTS)])
    items: list[tuple[str, Event]] = []
    while any(queues):
        chosen = draw(st.sampled_from([queue for queue in queues if queue]))
        items.append(chosen.pop(0))
    return items


@pytest.fixture
async def live(nc: NATS, db: str, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with projecting(nc, db, "orders", "stock"):
        yield client


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories())
async def test_as_of_the_current_position_equals_the_live_view(
    nc: NATS, db: str, live: httpx.AsyncClient, history: list[tuple[str, Event]]
) -> None:
    js = nc.jetstream()
    last: dict[str, int] = {}
    for subject, event in history:
        last[subject] = await publish(nc, [(subject, event)])
    ends = {stream: (await js.stream_info(stream)).state.last_seq for stream in ("ORDERS", "STOCK")}
    await wait_position(db, "orders", ends["ORDERS"])
    await wait_position(db, "stock", ends["STOCK"])
    for subject, seq in last.items():
        prefix, _, key = subject.partition(".")
        stream = prefix.upper()
        path = f"/{prefix}/{key}"
        now: dict[str, Any] = (await live.get(path)).json()
        as_of = await live.get(path, params={"as_of": f"{stream}:{ends[stream]}"})
        assert as_of.status_code == 200, as_of.text
        body = as_of.json()
        assert body.pop("as_of") == f"{stream}:{seq}"
        assert body == now
