"""The fulfilment process, step by step, on the in-memory store: given a shop, when an
order event is delivered, then stock, payment and order end as the saga says."""

import pytest

from events.orders import OrderRejected
from support.fulfilment_world import CrashAt, World
from write_side.domain.order import CancelOrder, ShipOrder
from write_side.fulfilment.plan import ACK, Retry


@pytest.fixture
def world() -> World:
    return World()


async def test_an_order_in_stock_and_paid_is_confirmed(world: World) -> None:
    await world.receive("a", 5)
    await world.receive("b", 5)
    order_id = await world.place(("b", 1, "3.00"), ("a", 2, "5.00"), ("a", 1, "5.00"))

    steps = CrashAt()
    outcome = await world.deliver(order_id, "OrderPlaced", world.process(steps))

    assert outcome == ACK
    assert (await world.order(order_id)).status == "confirmed"
    assert dict((await world.stock("a")).reservations) == {order_id: 3}
    assert dict((await world.stock("b")).reservations) == {order_id: 1}
    payment = await world.payment(order_id)
    assert payment.authorization_id is not None and payment.amount == 18
    assert steps.passed == [
        "after-reserve",
        "after-reserve",
        "after-authorize",
        "after-payment",
        "after-confirm",
    ]


async def test_out_of_stock_rejects_releases_and_never_asks_for_money(world: World) -> None:
    await world.receive("a", 5)
    await world.receive("b", 1)
    order_id = await world.place(("a", 2, "5.00"), ("b", 3, "1.00"))

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    rejected = (await world.order_event(order_id, "OrderRejected")).event
    assert isinstance(rejected, OrderRejected) and rejected.reason == "out_of_stock"
    assert dict((await world.stock("a")).reservations) == {}
    history = await world.history(order_id, "a", "b")
    assert history["a"] == ["StockReceived", "StockReserved", "StockReservationReleased"]
    assert history["b"] == ["StockReceived"]
    assert world.gateway.calls == 0
    assert history["payment"] == []


async def test_a_declined_payment_rejects_and_releases(world: World) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 1, "500.00"))  # above the gateway's limit

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    rejected = (await world.order_event(order_id, "OrderRejected")).event
    assert isinstance(rejected, OrderRejected) and rejected.reason == "payment_declined"
    assert (await world.payment(order_id)).declined
    assert dict((await world.stock("a")).reservations) == {}


async def test_an_unavailable_gateway_parks_the_order_until_the_deadline(world: World) -> None:
    world.gateway.failure_rate = 1.0
    await world.receive("a", 5)
    order_id = await world.place(("a", 1, "5.00"))

    parked = await world.deliver(order_id, "OrderPlaced")

    assert isinstance(parked, Retry) and parked.delay > 0
    assert (await world.order(order_id)).status == "pending"
    assert dict((await world.stock("a")).reservations) == {order_id: 1}

    world.clock.advance(31.0)  # past the 30 s payment deadline
    calls = world.gateway.calls
    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert world.gateway.calls == calls  # no call once the deadline has passed
    rejected = (await world.order_event(order_id, "OrderRejected")).event
    assert isinstance(rejected, OrderRejected) and rejected.reason == "payment_unavailable"
    assert dict((await world.stock("a")).reservations) == {}


async def test_an_open_breaker_parks_without_calling_the_gateway(world: World) -> None:
    assert world.breaker is not None
    for _ in range(world.breaker.failure_threshold):
        world.breaker.record_failure()
    await world.receive("a", 5)
    order_id = await world.place(("a", 1, "5.00"))

    parked = await world.deliver(order_id, "OrderPlaced")

    assert isinstance(parked, Retry) and parked.delay >= 5.0  # until a trial call may go
    assert world.gateway.calls == 0
    assert (await world.order(order_id)).status == "pending"

    world.clock.advance(5.0)  # the breaker lets a trial call through
    assert await world.deliver(order_id, "OrderPlaced") == ACK
    assert (await world.order(order_id)).status == "confirmed"
    assert world.breaker.state == "closed"


async def test_a_cancelled_order_gives_back_its_stock_and_its_money(world: World) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 2, "5.00"))
    await world.deliver(order_id, "OrderPlaced")
    await world.command(order_id, CancelOrder("changed my mind"))

    assert await world.deliver(order_id, "OrderCancelled") == ACK

    assert dict((await world.stock("a")).reservations) == {}
    assert world.gateway.refunds == {order_id: 10}
    assert (await world.payment(order_id)).refunded
    assert (await world.history(order_id))["payment"] == ["PaymentAuthorized", "PaymentRefunded"]


async def test_an_order_cancelled_before_fulfilment_is_never_charged(world: World) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 2, "5.00"))
    await world.command(order_id, CancelOrder(""))

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert world.gateway.calls == 0
    assert (await world.history(order_id, "a"))["a"] == ["StockReceived"]


async def test_a_shipped_order_takes_its_reserved_stock(world: World) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 2, "5.00"))
    await world.deliver(order_id, "OrderPlaced")
    await world.command(order_id, ShipOrder())

    assert await world.deliver(order_id, "OrderShipped") == ACK

    stock = await world.stock("a")
    assert (stock.on_hand, stock.reserved, dict(stock.reservations)) == (3, 0, {})
    assert (await world.history(order_id, "a"))["a"][-1] == "StockShipped"


async def test_a_redelivered_event_changes_nothing_more(world: World) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 2, "5.00"))
    await world.deliver(order_id, "OrderPlaced")
    await world.command(order_id, CancelOrder(""))
    await world.deliver(order_id, "OrderCancelled")
    before, calls = await world.history(order_id, "a"), world.gateway.calls

    for event_type in ("OrderPlaced", "OrderCancelled", "OrderPlaced"):
        assert await world.deliver(order_id, event_type) == ACK

    assert await world.history(order_id, "a") == before
    assert world.gateway.calls == calls
