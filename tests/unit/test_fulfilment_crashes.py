"""A fulfilment process that dies between any two steps loses and doubles nothing: for
every failpoint a saga passes, the process crashes there, a restarted process gets the
same event again (as JetStream redelivers an unacknowledged message), and every subject
ends with exactly the events of a run without a crash."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from support.fulfilment_world import Crash, CrashAt, World
from write_side.domain.order import CancelOrder, ShipOrder
from write_side.fulfilment.failpoints import POINTS
from write_side.fulfilment.plan import ACK


@dataclass(frozen=True)
class Saga:
    """`setup` builds the scene and returns the order id; `trigger` is the order event
    that is delivered (and redelivered after the crash)."""

    setup: Callable[[World], Awaitable[str]]
    trigger: str
    skus: tuple[str, ...]
    points: tuple[str, ...]  # every failpoint passed, in order

    def crash(self, index: int) -> CrashAt:
        """Failpoints that crash at the `index`-th point this saga passes."""
        point = self.points[index]
        return CrashAt(point, nth=self.points[: index + 1].count(point))


async def placed(world: World) -> str:
    await world.receive("a", 5)
    await world.receive("b", 5)
    return await world.place(("a", 2, "5.00"), ("b", 1, "5.00"))


async def declined(world: World) -> str:
    await world.receive("a", 5)
    return await world.place(("a", 1, "500.00"))


async def out_of_stock(world: World) -> str:
    await world.receive("a", 5)
    await world.receive("b", 1)
    return await world.place(("a", 2, "5.00"), ("b", 3, "5.00"))


async def cancelled_after_payment(world: World) -> str:
    order_id = await placed(world)
    await world.deliver(order_id, "OrderPlaced")
    await world.command(order_id, CancelOrder("changed my mind"))
    return order_id


async def shipped(world: World) -> str:
    order_id = await placed(world)
    await world.deliver(order_id, "OrderPlaced")
    await world.command(order_id, ShipOrder())
    return order_id


RESERVE, RELEASE = "after-reserve", "after-release"
SAGAS = {
    "confirmed": Saga(
        placed,
        "OrderPlaced",
        ("a", "b"),
        (RESERVE, RESERVE, "after-authorize", "after-payment", "after-confirm"),
    ),
    "declined": Saga(declined, "OrderPlaced", ("a",), (RESERVE, "after-reject", RELEASE)),
    "out-of-stock": Saga(
        out_of_stock, "OrderPlaced", ("a", "b"), (RESERVE, "after-reject", RELEASE, RELEASE)
    ),
    "cancelled": Saga(
        cancelled_after_payment, "OrderCancelled", ("a", "b"), (RELEASE, RELEASE, "after-refund")
    ),
    "shipped": Saga(shipped, "OrderShipped", ("a", "b"), ("after-ship", "after-ship")),
}
CASES = [
    pytest.param(name, index, id=f"{name}-{index + 1}-{point}")
    for name, saga in SAGAS.items()
    for index, point in enumerate(saga.points)
]


def test_every_failpoint_is_crashed_at_by_some_saga() -> None:
    assert {point for saga in SAGAS.values() for point in saga.points} == POINTS


@pytest.mark.parametrize("name", SAGAS)
async def test_each_saga_passes_the_failpoints_it_names(name: str) -> None:
    saga, world = SAGAS[name], World()
    order_id = await saga.setup(world)
    steps = CrashAt()

    assert await world.deliver(order_id, saga.trigger, world.process(steps)) == ACK

    assert steps.passed == list(saga.points)


async def history_without_a_crash(saga: Saga) -> dict[str, list[str]]:
    world = World()
    order_id = await saga.setup(world)
    await world.deliver(order_id, saga.trigger)
    return await world.history(order_id, *saga.skus)


@pytest.mark.parametrize(("name", "index"), CASES)
async def test_a_crash_then_redelivery_ends_as_if_nothing_happened(name: str, index: int) -> None:
    saga, world = SAGAS[name], World()
    order_id = await saga.setup(world)

    with pytest.raises(Crash):
        await world.deliver(order_id, saga.trigger, world.process(saga.crash(index)))
    assert await world.deliver(order_id, saga.trigger, world.process()) == ACK

    assert await world.history(order_id, *saga.skus) == await history_without_a_crash(saga)
    if name in ("confirmed", "shipped"):
        assert len(world.gateway.refunds) == 0
    if name == "cancelled":
        assert list(world.gateway.refunds) == [order_id]
