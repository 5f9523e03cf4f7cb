"""The independent steps of one order go out together: its SKUs' reservations (and
releases) are in flight at once, each still alone on its SKU within the process; every
one of them is finished before the order is decided."""

import asyncio
from collections.abc import Sequence

import pytest

from events.orders import OrderRejected
from support.clock import FakeClock
from support.defaults import DUPLICATE_WINDOW
from support.fulfilment_world import World
from write_side.domain.order import CancelOrder
from write_side.errors import StoreUnavailable
from write_side.fulfilment.plan import ACK
from write_side.in_memory import InMemoryEventStore
from write_side.ports import AppendResult, PendingEvent


class GatedStore(InMemoryEventStore):
    """Stock appends wait until `together` of them are in flight (a sequential caller
    would wait forever: the test's timeout says so); `fail` names a subject whose appends
    fail as if NATS were gone."""

    def __init__(self, together: int, fail: str | None = None) -> None:
        super().__init__(duplicate_window=DUPLICATE_WINDOW, clock=FakeClock())
        self.together = together
        self.fail = fail
        self.in_flight = 0
        self.most_in_flight = 0
        self._arrived = asyncio.Condition()

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        if subject == self.fail:
            raise StoreUnavailable(f"appending to {subject}: gone")
        if not subject.startswith("stock.") or self.together <= 1:
            return await super().append(subject, events, expected_seq)
        async with self._arrived:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._arrived.notify_all()
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: self.most_in_flight >= self.together), 1.0
            )
        try:
            return await super().append(subject, events, expected_seq)
        finally:
            self.in_flight -= 1


async def stocked(world: World, **skus: int) -> None:
    store = world.store
    assert isinstance(store, GatedStore)
    together, store.together = store.together, 1  # the shop's receipts go one by one
    for sku, quantity in skus.items():
        await world.receive(sku, quantity)
    store.together = together


async def test_the_reservations_of_one_order_are_in_flight_together() -> None:
    store = GatedStore(together=3)
    world = World(store=store)
    await stocked(world, a=5, b=5, c=5)
    order_id = await world.place(("a", 1, "1.00"), ("b", 1, "1.00"), ("c", 1, "1.00"))

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    assert store.most_in_flight == 3
    assert (await world.order(order_id)).status == "confirmed"
    for sku in "abc":
        assert dict((await world.stock(sku)).reservations) == {order_id: 1}


async def test_a_shortage_rejects_only_once_every_reservation_is_done() -> None:
    """The first SKU is short; the second, reserved meanwhile, is released again."""
    world = World()
    await world.receive("a", 1)
    await world.receive("b", 5)
    order_id = await world.place(("a", 3, "1.00"), ("b", 2, "1.00"))

    assert await world.deliver(order_id, "OrderPlaced") == ACK

    rejected = (await world.order_event(order_id, "OrderRejected")).event
    assert isinstance(rejected, OrderRejected) and rejected.reason == "out_of_stock"
    history = await world.history(order_id, "a", "b")
    assert history["a"] == ["StockReceived"]
    assert history["b"] == ["StockReceived", "StockReserved", "StockReservationReleased"]
    assert world.gateway.calls == 0


async def test_a_failed_reservation_beside_a_shortage_is_retried_not_rejected() -> None:
    """The outcome of the failed append is unknown: rejecting now could release before it
    lands. The message comes back, and the redelivery decides on what is stored."""
    store = GatedStore(together=1)
    world = World(store=store)
    await stocked(world, a=5, b=1)
    order_id = await world.place(("a", 2, "1.00"), ("b", 3, "1.00"))
    store.fail = "stock.a"

    with pytest.raises(StoreUnavailable):
        await world.deliver(order_id, "OrderPlaced")
    assert (await world.order(order_id)).status == "pending"

    store.fail = None
    assert await world.deliver(order_id, "OrderPlaced") == ACK
    assert (await world.order(order_id)).status == "rejected"
    assert dict((await world.stock("a")).reservations) == {}


async def test_a_cancelled_order_releases_its_skus_together() -> None:
    store = GatedStore(together=1)
    world = World(store=store)
    await stocked(world, a=5, b=5)
    order_id = await world.place(("a", 1, "1.00"), ("b", 2, "1.00"))
    assert await world.deliver(order_id, "OrderPlaced") == ACK
    await world.command(order_id, CancelOrder("changed my mind"))

    store.together = 2
    assert await world.deliver(order_id, "OrderCancelled") == ACK

    assert store.most_in_flight == 2
    assert dict((await world.stock("a")).reservations) == {}
    assert dict((await world.stock("b")).reservations) == {}
    assert (await world.payment(order_id)).refunded
