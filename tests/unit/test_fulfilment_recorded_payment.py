"""The payment is not read before an order is paid for: recording it expects an empty
subject. A payment an earlier delivery recorded still decides the order, whether the
gateway is asked again or cannot be (breaker open, gateway down, deadline passed)."""

from decimal import Decimal

import pytest

from events.orders import OrderRejected
from support.fulfilment_world import Crash, CrashAt, World
from write_side.aggregates import PAYMENT
from write_side.command_service import Metadata
from write_side.domain.payment import RecordAuthorization, RecordDecline
from write_side.fulfilment.plan import ACK


@pytest.fixture
def world() -> World:
    return World()


async def paid_then_crashed(world: World) -> str:
    """An order whose payment was recorded by a process that died before confirming."""
    await world.receive("a", 5)
    order_id = await world.place(("a", 1, "5.00"))
    with pytest.raises(Crash):
        await world.deliver(order_id, "OrderPlaced", world.process(CrashAt("after-payment")))
    assert (await world.payment(order_id)).authorization_id is not None
    assert (await world.order(order_id)).status == "pending"
    return order_id


async def test_a_recorded_payment_confirms_on_redelivery(world: World) -> None:
    order_id = await paid_then_crashed(world)
    authorization = (await world.payment(order_id)).authorization_id

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert (await world.order(order_id)).status == "confirmed"
    assert (await world.payment(order_id)).authorization_id == authorization
    assert (await world.history(order_id))["payment"] == ["PaymentAuthorized"]


async def test_a_recorded_payment_confirms_while_the_breaker_is_open(world: World) -> None:
    order_id = await paid_then_crashed(world)
    assert world.breaker is not None
    for _ in range(world.breaker.failure_threshold):
        world.breaker.record_failure()
    calls = world.gateway.calls

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert world.gateway.calls == calls
    assert (await world.order(order_id)).status == "confirmed"


async def test_a_recorded_payment_confirms_while_the_gateway_is_down(world: World) -> None:
    order_id = await paid_then_crashed(world)
    world.gateway.failure_rate = 1.0

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert (await world.order(order_id)).status == "confirmed"


async def test_a_recorded_payment_confirms_after_the_deadline(world: World) -> None:
    order_id = await paid_then_crashed(world)
    world.clock.advance(31.0)  # past the payment deadline: the gateway is not asked
    calls = world.gateway.calls

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert world.gateway.calls == calls
    assert (await world.order(order_id)).status == "confirmed"
    assert (await world.payment(order_id)).refunded is False


async def test_a_recorded_decline_stands_though_the_gateway_now_authorizes(
    world: World,
) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 1, "5.00"))
    decline = RecordDecline("declined earlier")
    await world.shop.handle(PAYMENT, order_id, decline, Metadata("test"))

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    rejected = (await world.order_event(order_id, "OrderRejected")).event
    assert isinstance(rejected, OrderRejected) and rejected.reason == "payment_declined"
    assert (await world.history(order_id))["payment"] == ["PaymentDeclined"]
    assert dict((await world.stock("a")).reservations) == {}


async def test_a_recorded_authorization_stands_though_the_gateway_now_declines(
    world: World,
) -> None:
    await world.receive("a", 5)
    order_id = await world.place(("a", 1, "500.00"))  # the gateway declines this total
    record = RecordAuthorization(Decimal(500), "EUR", "auth-earlier")
    await world.shop.handle(PAYMENT, order_id, record, Metadata("test"))

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert (await world.order(order_id)).status == "confirmed"
    assert (await world.history(order_id))["payment"] == ["PaymentAuthorized"]
