"""The fulfilment process on a real NATS server: the paths of SPEC §1 "Order fulfilment"."""

import asyncio
from decimal import Decimal

import pytest

from events.codec import RecordedEvent
from events.orders import OrderConfirmed, OrderPlaced
from events.payments import PaymentAuthorized, PaymentRefunded
from events.stock import StockReservationReleased, StockReserved, StockShipped
from support.fulfilment import Shop, fulfilling, make_fulfilment, shop
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.order import CancelOrder, ShipOrder
from write_side.domain.stock import ReleaseReservation, ReserveStock
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.plan import step_key
from write_side.fulfilment.simulator import SimulatedGateway
from write_side.fulfilment.status import (
    BreakerStatusPublisher,
    open_status_bucket,
    read_breaker_status,
)

pytestmark = pytest.mark.integration


def types(events: list[RecordedEvent]) -> list[str]:
    return [type(event.event).__name__ for event in events]


async def test_an_order_with_stock_and_money_is_confirmed(nats_url: str) -> None:
    async with shop(nats_url) as s, fulfilling(nats_url) as process:
        await s.receive("apple", 5)
        await s.receive("pear", 5)
        order_id = await s.place(("pear", 1, "3.00"), ("apple", 2, "10.00"))
        states = await s.settled([order_id])
        assert states[order_id].status == "confirmed"
        assert dict((await s.stock("apple")).reservations) == {order_id: 2}
        assert dict((await s.stock("pear")).reservations) == {order_id: 1}
        payment = await s.payment(order_id)
        assert payment.amount == Decimal("23.00")
        assert process.gateway.calls == 1

        placed, confirmed = await s.order_events(order_id)
        assert isinstance(placed.event, OrderPlaced)
        assert isinstance(confirmed.event, OrderConfirmed)
        assert confirmed.event.authorization_id == payment.authorization_id
        appended = [
            confirmed,
            *(await s.stock_events("apple"))[1:],  # after StockReceived
            *(await s.stock_events("pear"))[1:],
            *(await s.store.load(f"payments.{order_id}")).events,
        ]
        assert types(appended) == [
            "OrderConfirmed",
            "StockReserved",
            "StockReserved",
            "PaymentAuthorized",
        ]
        for recorded in appended:
            assert recorded.envelope.correlation_id == f"corr-{order_id}"
            assert recorded.envelope.causation_id == str(placed.envelope.event_id)


async def test_one_line_short_of_stock_rejects_and_releases_the_others(nats_url: str) -> None:
    async with shop(nats_url) as s, fulfilling(nats_url) as process:
        await s.receive("a", 5)
        await s.receive("b", 1)
        order_id = await s.place(("a", 2, "1.00"), ("b", 3, "1.00"), ("c", 1, "1.00"))
        state = (await s.settled([order_id]))[order_id]
        assert state.status == "rejected"
        rejected = (await s.order_events(order_id))[-1].event
        assert getattr(rejected, "reason", None) == "out_of_stock"
        await s.eventually(lambda: _reserved_nothing(s, "a"))
        assert types(await s.stock_events("a")) == [
            "StockReceived",
            "StockReserved",
            "StockReservationReleased",
        ]
        assert (await s.stock("b")).reserved == 0
        assert process.gateway.calls == 0


async def _reserved_nothing(s: Shop, sku: str) -> bool:
    return (await s.stock(sku)).reserved == 0


async def test_a_declined_payment_rejects_and_releases(nats_url: str) -> None:
    gateway = SimulatedGateway(limit=Decimal(100))
    async with shop(nats_url) as s, fulfilling(nats_url, gateway=gateway):
        await s.receive("a", 10)
        over = await s.place(("a", 1, "100.01"))
        at_limit = await s.place(("a", 1, "100.00"))
        states = await s.settled([over, at_limit])
        assert states[over].status == "rejected"
        assert states[at_limit].status == "confirmed"
        assert getattr((await s.order_events(over))[-1].event, "reason", "") == "payment_declined"
        assert (await s.payment(over)).declined
        await s.eventually(lambda: _holds(s, "a", {at_limit: 1}))


async def _holds(s: Shop, sku: str, reservations: dict[str, int]) -> bool:
    return dict((await s.stock(sku)).reservations) == reservations


async def test_cancel_after_confirm_releases_and_refunds(nats_url: str) -> None:
    async with shop(nats_url) as s, fulfilling(nats_url) as process:
        await s.receive("a", 3)
        order_id = await s.place(("a", 2, "7.50"))
        await s.settled([order_id], {"confirmed"})
        await s.command(order_id, CancelOrder("changed my mind"))
        await s.eventually(lambda: _refunded(s, order_id))
        assert (await s.stock("a")).reserved == 0
        assert process.gateway.refunds == {order_id: Decimal("15.00")}
        refunds = (await s.store.load(f"payments.{order_id}")).events
        assert types(refunds) == ["PaymentAuthorized", "PaymentRefunded"]
        assert isinstance(refunds[1].event, PaymentRefunded)
        cancelled = (await s.order_events(order_id))[-1]
        assert refunds[1].envelope.causation_id == str(cancelled.envelope.event_id)


async def _refunded(s: Shop, order_id: str) -> bool:
    return (await s.payment(order_id)).refunded


async def test_shipping_ships_the_reserved_units(nats_url: str) -> None:
    async with shop(nats_url) as s, fulfilling(nats_url):
        await s.receive("a", 5)
        await s.receive("b", 5)
        order_id = await s.place(("a", 2, "1.00"), ("b", 1, "1.00"))
        await s.settled([order_id], {"confirmed"})
        await s.command(order_id, ShipOrder())
        await s.eventually(lambda: _on_hand(s, "b", 4))
        a = await s.stock("a")
        assert (a.on_hand, a.reserved) == (3, 0)
        shipped = (await s.stock_events("a"))[-1].event
        assert isinstance(shipped, StockShipped) and shipped.quantity == 2


async def _on_hand(s: Shop, sku: str, on_hand: int) -> bool:
    stock = await s.stock(sku)
    return stock.on_hand == on_hand and stock.reserved == 0


async def test_the_same_order_placed_delivered_twice_reserves_and_charges_once(
    nats_url: str,
) -> None:
    async with shop(nats_url) as s:
        await s.receive("a", 5)
        order_id = await s.place(("a", 2, "1.00"))
        placed = (await s.order_events(order_id))[0]
        gateway = SimulatedGateway(limit=Decimal(100))
        breaker = CircuitBreaker()
        # Two processes handling the same delivery at once, then a late redelivery.
        first = make_fulfilment(s.nc, gateway, breaker)
        second = make_fulfilment(s.nc, gateway, breaker)
        await asyncio.gather(first.handle(placed), second.handle(placed))
        await first.handle(placed)
        assert (await s.order(order_id)).status == "confirmed"
        stock_events = [e.event for e in await s.stock_events("a")]
        assert sum(isinstance(e, StockReserved) for e in stock_events) == 1
        assert not any(isinstance(e, StockReservationReleased) for e in stock_events)
        payments = (await s.store.load(f"payments.{order_id}")).events
        assert [type(e.event) for e in payments] == [PaymentAuthorized]
        assert types(await s.order_events(order_id)) == ["OrderPlaced", "OrderConfirmed"]


async def test_a_step_deduplicated_by_jetstream_does_not_poison_the_cached_state(
    nats_url: str,
) -> None:
    """A step repeated with its deterministic key after its effect was undone is dropped
    by JetStream's duplicate window; the command service must not cache it as stored."""
    async with shop(nats_url) as s:
        await s.receive("a", 5)
        reserve = Metadata("c", idempotency_key=step_key("o1", "reserve:a"))
        await s.service.handle(STOCK_ITEM, "a", ReserveStock("o1", 2), reserve)
        await s.service.handle(STOCK_ITEM, "a", ReleaseReservation("o1"), Metadata("c"))
        await s.receive("a", 1)
        await s.service.handle(STOCK_ITEM, "a", ReserveStock("o1", 2), reserve)
        truth, _ = await CommandService(s.store, max_attempts=1).load(STOCK_ITEM, "a")
        cached, _ = await s.service.load(STOCK_ITEM, "a")
        assert (cached.on_hand, dict(cached.reservations)) == (6, {})
        assert (cached.on_hand, dict(cached.reservations)) == (
            truth.on_hand,
            dict(truth.reservations),
        )


async def test_the_breaker_state_is_published_for_other_processes(nats_url: str) -> None:
    async with shop(nats_url) as s:
        js = s.nc.jetstream()
        assert await read_breaker_status(js) is None
        breaker = CircuitBreaker(failure_threshold=1, reset_timeout=60)
        publisher = BreakerStatusPublisher(await open_status_bucket(js), breaker)
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        breaker.record_failure()

        async def published_open() -> bool:
            status = await read_breaker_status(js)
            return status is not None and status["state"] == "open"

        await s.eventually(published_open)
        stop.set()
        await task
