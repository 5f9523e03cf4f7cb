"""The projector against real NATS and PostgreSQL: exactly once, poison events, restarts."""

from __future__ import annotations

import json
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from nats.aio.client import Client as NATS

from events.orders import OrderCancelled, OrderConfirmed
from projections.consumers import ensure_projection_consumer
from projections.registry import get_projection
from support.read_side import (
    order_history,
    placed,
    projecting,
    publish,
    rows,
    view_rows,
    wait_position,
)
from tally.metrics import Metrics

pytestmark = pytest.mark.integration


async def test_projects_orders_and_stock(nc: NATS, db: str) -> None:
    items = order_history(12)
    await publish(nc, items)
    info = {s: (await nc.jetstream().stream_info(s)).state.last_seq for s in ("ORDERS", "STOCK")}
    metrics = Metrics()
    async with projecting(nc, db, "orders", "stock", observer=metrics):
        await wait_position(db, "orders", info["ORDERS"])
        await wait_position(db, "stock", info["STOCK"])
    view = await view_rows(db)
    sample = metrics.registry.get_sample_value
    assert sample("tally_projection_position", {"projection": "stock"}) == info["STOCK"]
    assert (
        sample("tally_projection_events_total", {"projection": "stock", "result": "applied"}) == 24
    )
    assert len(view["orders"]) == 12
    statuses = sorted({row[2] for row in view["orders"]})
    assert statuses == ["cancelled", "confirmed", "pending", "rejected"]
    stock = {row[0]: row for row in view["stock_items"]}
    assert sum(row[1] for row in stock.values()) == sum(10 + i for i in range(12))
    assert sum(row[2] for row in stock.values()) == 12
    assert sum(row[3] for row in stock.values()) == 24
    versions = [row[8] for row in view["orders"]]
    assert sorted(versions) == [1, 1, 1] + [2] * 9


async def test_projects_every_column_of_an_order_and_its_lines(nc: NATS, db: str) -> None:
    """Values as written: the lines numbered in the body's order, money exact, the reason
    of the last status change, times as occurred (a batch sends its rows as one JSON
    parameter: nothing may be lost or reordered on the way)."""
    first, second = str(uuid4()), str(uuid4())
    lines = (("sku-b", 3, "0.10"), ("sku-a", 1, "12345678901.99"), ("sku-0", 7, "2.00"))
    await publish(nc, [(f"orders.{first}", placed('ünïcode "c"', *lines))])
    async with projecting(nc, db, "orders"):  # the first order in a batch of its own
        await wait_position(db, "orders", 1)
        later = [
            (f"orders.{second}", placed("bob")),
            (f"orders.{first}", OrderConfirmed(authorization_id="a")),
            (f"orders.{first}", OrderCancelled(reason="line 1\nline 2 'quoted'")),
        ]
        await publish(nc, later, start=1)
        await wait_position(db, "orders", 4)
    view = await view_rows(db)
    order = {row[0]: row for row in view["orders"]}[UUID(first)]
    assert order[1:6] == (
        'ünïcode "c"',
        "cancelled",
        "EUR",
        Decimal("12345678916.29"),
        "line 1\nline 2 'quoted'",
    )
    assert order[8:10] == (3, 4) and order[7] > order[6]  # version, last_seq; updated later
    assert json.loads(order[10]) == [  # the lines in the order placed, money as written
        {"sku": "sku-b", "quantity": 3, "unit_price": "0.10"},
        {"sku": "sku-a", "quantity": 1, "unit_price": "12345678901.99"},
        {"sku": "sku-0", "quantity": 7, "unit_price": "2.00"},
    ]
    second_row = {row[0]: row for row in view["orders"]}[UUID(second)]
    assert json.loads(second_row[10]) == [{"sku": "sku-1", "quantity": 2, "unit_price": "12.50"}]


async def test_an_order_placed_again_changes_neither_its_row_nor_its_lines(
    nc: NATS, db: str
) -> None:
    """A second OrderPlaced of an order that exists (e.g. a foreign publisher's copy with
    other lines): the row and its lines stay as the first one wrote them, and the view goes
    on (its lines are a column of the row the conflict leaves alone)."""
    order = str(uuid4())
    await publish(nc, [(f"orders.{order}", placed("alice", ("sku-a", 1, "1.00")))])
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", 1)
        again = placed("mallory", ("sku-x", 9, "9.00"), ("sku-y", 9, "9.00"))
        await publish(nc, [(f"orders.{order}", again)], start=1)
        await wait_position(db, "orders", 2)
    view = await view_rows(db)
    assert [(row[1], row[8], row[9]) for row in view["orders"]] == [("alice", 1, 1)]
    lines = [json.loads(row[10]) for row in view["orders"]]
    assert lines == [[{"sku": "sku-a", "quantity": 1, "unit_price": "1.00"}]]


class Killed(BaseException):
    """The projector process dies (here: between commit and ack)."""


async def test_killed_between_commit_and_ack_reapplies_nothing(nc: NATS, db: str) -> None:
    items = order_history(6)
    await publish(nc, items)
    last = (await nc.jetstream().stream_info("STOCK")).state.last_seq

    async def die(position: int) -> None:
        # the batch that reaches the end dies (the first batch may hold only some of the
        # events when they arrive in several reads: dying then left the end unreached)
        if position >= last:
            raise Killed

    async with projecting(nc, db, "stock", after_commit=die):
        await wait_position(db, "stock", last)
    consumer = await nc.jetstream().consumer_info("STOCK", "projection-stock")
    floor = consumer.ack_floor.stream_seq if consumer.ack_floor else 0
    assert floor < last and consumer.num_ack_pending == last - floor  # never acknowledged
    before = await view_rows(db)

    async with projecting(nc, db, "stock"):
        await publish(nc, [("stock.sku-0", order_history(1)[1][1])], start=100)
        await wait_position(db, "stock", last + 1)
    after = await rows(db, "stock_items", "sku")
    assert [row for row in after if row[0] != "sku-0"] == [
        row for row in before["stock_items"] if row[0] != "sku-0"
    ]
    old = next(row for row in before["stock_items"] if row[0] == "sku-0")
    new = next(row for row in after if row[0] == "sku-0")
    assert (new[1], new[3]) == (old[1] + 10, old[3] + 1)  # only the new event was added


async def test_redelivered_batch_is_skipped(nc: NATS, db: str) -> None:
    import asyncpg
    from nats.js.api import ConsumerConfig

    from projections.batch import Retry, apply_batch
    from projections.messages import from_msg
    from projections.registry import get_projection

    await publish(nc, order_history(4))
    js = nc.jetstream()
    sub = await js.pull_subscribe("stock.>", "redelivery", config=ConsumerConfig())
    batch = [from_msg(msg) for msg in await sub.fetch(8, timeout=2)]
    conn = await asyncpg.connect(db)

    async def no_dead_letters(*args: object) -> None:
        raise AssertionError("nothing here is poison")

    try:
        stock = get_projection("stock")
        first = await apply_batch(conn, stock, batch, retry=Retry(), dead_letter=no_dead_letters)
        once = await rows(db, "stock_items", "sku")
        again = await apply_batch(conn, stock, batch, retry=Retry(), dead_letter=no_dead_letters)
    finally:
        await conn.close()
    assert (first.applied, first.skipped, first.position) == (8, 0, 8)
    assert (again.applied, again.skipped, again.position) == (0, 8, 8)
    assert await rows(db, "stock_items", "sku") == once


async def test_poison_events_are_dead_lettered_and_projection_goes_on(nc: NATS, db: str) -> None:
    from uuid import uuid4

    from events.codec import encode
    from events.envelope import EVENT_TYPE, EVENT_VERSION
    from events.stock import StockReceived
    from projections.dlq import list_dead_letters
    from support.read_side import envelope, placed

    order_id = str(uuid4())
    js = nc.jetstream()
    await publish(nc, [(f"orders.{order_id}", placed("bob"))])
    data, headers = encode(placed("eve"), envelope(1))
    undecodable = {**headers, EVENT_TYPE: "OrderTeleported", EVENT_VERSION: "1"}
    await js.publish(f"orders.{uuid4()}", data, headers=undecodable)
    await publish(nc, [(f"orders.{uuid4()}", StockReceived(quantity=3))], start=2)  # misfiled
    await js.publish(f"orders.{uuid4()}", b"not json at all")
    good = str(uuid4())
    last = await publish(nc, [(f"orders.{good}", placed("carol"))], start=4)

    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", last)
    customers = sorted(row[1] for row in await rows(db, "orders", "order_id"))
    assert customers == ["bob", "carol"]
    letters = await list_dead_letters(js)
    assert [letter.original.seq for letter in letters] == [2, 3, 4]
    assert all(letter.projection == "orders" and letter.attempts == 3 for letter in letters)
    assert "unknown-event-type" in letters[0].error
    assert "TypeError" in letters[1].error
    assert "missing-header" in letters[2].error

    from projections.dlq import drop_dead_letter

    assert await drop_dead_letter(js, letters[0].seq)
    assert [letter.seq for letter in await list_dead_letters(js)] == [
        letter.seq for letter in letters[1:]
    ]


async def test_atomic_batch_is_applied(nc: NATS, db: str) -> None:
    from events.codec import encode
    from events.stock import StockReceived, StockReserved
    from support.read_side import envelope
    from write_side.atomic_batch import publish_batch

    events = [StockReceived(quantity=5), StockReserved(order_id="o", quantity=2)] * 3
    encoded = [encode(event, envelope(index)) for index, event in enumerate(events)]
    await publish(nc, [("stock.atomic", StockReceived(quantity=1))])
    answer = await publish_batch(nc, "stock.atomic", encoded, first_headers={}, timeout=2)
    async with projecting(nc, db, "stock"):
        await wait_position(db, "stock", int(answer["seq"]))
    (row,) = await rows(db, "stock_items", "sku")
    assert row[:4] == ("atomic", 16, 6, 7)


async def test_a_consumer_deleted_under_the_projector_is_waited_for(
    nc: NATS, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The projector may not create consumers (only `tally migrate` does): it says what is
    missing, retries, and goes on from its checkpoint once the consumer is back."""
    await publish(nc, order_history(2))
    async with projecting(nc, db, "stock"):
        last = (await nc.jetstream().stream_info("STOCK")).state.last_seq
        await wait_position(db, "stock", last)
        await nc.jetstream().delete_consumer("STOCK", "projection-stock")
        await publish(nc, order_history(1)[1:], start=50)
        with pytest.raises(TimeoutError):
            await wait_position(db, "stock", last + 2, timeout=3)
        errors = [str(getattr(record, "error", "")) for record in caplog.records]
        assert any("missing: run `tally migrate`" in error for error in errors), errors
        await ensure_projection_consumer(nc.jetstream(), get_projection("stock"))
        await wait_position(db, "stock", last + 2, timeout=10)
    (row,) = [row for row in await rows(db, "stock_items", "sku") if row[0] == "sku-0"]
    assert row[3] == 4  # sku-0: 2 events before, 2 after, none twice
