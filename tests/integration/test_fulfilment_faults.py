"""The fulfilment process when things go wrong: the gateway down, a cancellation racing
with the payment, and many orders fighting over little stock."""

import asyncio
import contextlib
import time
from decimal import Decimal

import pytest

from events.codec import RecordedEvent
from events.stock import StockReceived, StockReservationReleased, StockReserved
from support.fulfilment import (
    Crash,
    CrashingService,
    SlowGateway,
    fulfilling,
    make_fulfilment,
    shop,
)
from support.servers import NatsServer
from write_side.domain.order import CancelOrder
from write_side.fulfilment.breaker import BreakerSnapshot, CircuitBreaker
from write_side.fulfilment.gateway import PaymentRequest, PaymentResult
from write_side.fulfilment.simulator import SimulatedGateway

pytestmark = pytest.mark.integration


def types(events: list[RecordedEvent]) -> list[str]:
    return [type(event.event).__name__ for event in events]


async def test_gateway_down_opens_the_breaker_parks_then_rejects_or_confirms(
    nats_url: str,
) -> None:
    gateway = SimulatedGateway(limit=Decimal(10000), failure_rate=1.0)
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=0.5)
    seen: list[BreakerSnapshot] = []
    breaker.subscribe(seen.append)
    deadline = 2.5
    async with (
        shop(nats_url) as s,
        fulfilling(nats_url, gateway=gateway, breaker=breaker, deadline=deadline),
    ):
        await s.receive("a", 10)
        started = time.monotonic()
        late = [await s.place(("a", 1, "5.00")) for _ in range(8)]
        states = await s.settled(late, timeout=deadline + 5)
        assert {state.status for state in states.values()} == {"rejected"}
        assert time.monotonic() - started >= deadline - 0.1
        for order_id in late:
            reason = getattr((await s.order_events(order_id))[-1].event, "reason", "")
            assert reason == "payment_unavailable"
        assert dict((await s.stock("a")).reservations) == {}
        # No tight loop: about one trial call per reset period while the gateway is down,
        # however many orders wait.
        periods = (time.monotonic() - started) / breaker.reset_timeout
        assert breaker.failure_threshold <= gateway.calls <= breaker.failure_threshold + periods + 3
        assert "open" in [snapshot.state for snapshot in seen]

        in_time = await s.place(("a", 2, "5.00"))
        await asyncio.sleep(0.8)
        assert (await s.order(in_time)).status == "pending"
        gateway.failure_rate = 0.0  # the gateway comes back within the deadline
        state = (await s.settled([in_time], timeout=deadline + 2))[in_time]
        assert state.status == "confirmed"
        assert dict((await s.stock("a")).reservations) == {in_time: 2}
        assert breaker.state == "closed"


async def test_a_cancellation_racing_with_the_payment_keeps_no_stock_and_no_money(
    nats_url: str,
) -> None:
    gateway = SimulatedGateway(limit=Decimal(10000))
    slow = SlowGateway(gateway, pause=0.3)
    async with shop(nats_url) as s, fulfilling(nats_url, gateway=gateway, wrapped=slow):
        await s.receive("a", 5)
        order_id = await s.place(("a", 1, "9.99"))
        await asyncio.wait_for(slow.calling.wait(), 5)
        await s.command(order_id, CancelOrder("too slow"))

        async def undone() -> bool:
            payment = await s.payment(order_id)
            kept = payment.authorization_id is not None and not payment.refunded
            return (await s.stock("a")).reserved == 0 and not kept

        await s.eventually(undone)
        assert (await s.order(order_id)).status == "cancelled"
        assert gateway.refunds == {order_id: Decimal("9.99")}
        await asyncio.sleep(0.3)  # nothing comes back later
        assert await undone()


async def test_sixty_orders_for_twenty_units(nats_url: str) -> None:
    # Two processes share the consumer, so reservations race across processes too (one
    # process takes a SKU's commands one at a time).
    async with shop(nats_url) as s, fulfilling(nats_url), fulfilling(nats_url):
        await s.receive("scarce", 20)
        order_ids = await asyncio.gather(*(s.place(("scarce", 1, "1.00")) for _ in range(60)))
        states = await s.settled(order_ids, timeout=60)
        statuses = [state.status for state in states.values()]
        assert statuses.count("confirmed") == 20
        assert statuses.count("rejected") == 40

        on_hand = reserved = 0
        for recorded in await s.stock_events("scarce"):
            match recorded.event:
                case StockReceived(quantity=quantity):
                    on_hand += quantity
                case StockReserved(quantity=quantity):
                    reserved += quantity
                case StockReservationReleased(quantity=quantity):
                    reserved -= quantity
            assert 0 <= reserved <= on_hand, f"at seq {recorded.seq}"
        assert (on_hand, reserved) == (20, 20)


async def test_orders_are_confirmed_again_after_nats_restarts(nats_server: NatsServer) -> None:
    # The process's pull requests die with the server; it must ask again on the new
    # connection (the server answers nothing for requests it no longer knows).
    url = nats_server.url
    async with fulfilling(url):
        async with shop(url) as s:
            await s.receive("a", 100)
            before = await s.place(("a", 1, "1.00"))
            assert (await s.settled([before]))[before].status == "confirmed"
        await asyncio.to_thread(nats_server.kill)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(nats_server.restart)
        async with shop(url) as s:
            after = [await s.place(("a", 1, "1.00")) for _ in range(3)]
            # well within the 5 s a lost request would take to be noticed by its silence
            states = await s.settled(after, timeout=4)
            assert {state.status for state in states.values()} == {"confirmed"}


class CrashOnce:
    """Fails with an unexpected error on the first call, as a process dying mid-way would."""

    def __init__(self, inner: SimulatedGateway) -> None:
        self.inner = inner
        self.crashed = False

    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("crash between reserving and paying")
        return await self.inner.authorize(request)

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        await self.inner.refund(order_id, authorization_id, amount)

    async def aclose(self) -> None:
        return None


async def test_a_failure_between_steps_resumes_on_redelivery(nats_url: str) -> None:
    gateway = SimulatedGateway(limit=Decimal(10000))
    crashing = CrashOnce(gateway)
    async with shop(nats_url) as s, fulfilling(nats_url, gateway=gateway, wrapped=crashing):
        await s.receive("a", 5)
        order_id = await s.place(("a", 2, "1.00"))
        assert (await s.settled([order_id]))[order_id].status == "confirmed"
        assert crashing.crashed
        reserved = [e for e in await s.stock_events("a") if isinstance(e.event, StockReserved)]
        assert len(reserved) == 1


async def test_stopping_finishes_the_message_in_hand(nats_url: str) -> None:
    gateway = SimulatedGateway(limit=Decimal(10000))
    slow = SlowGateway(gateway, pause=0.5)
    async with shop(nats_url) as s:
        await s.receive("a", 5)
        async with fulfilling(nats_url, gateway=gateway, wrapped=slow):
            order_id = await s.place(("a", 1, "1.00"))
            await asyncio.wait_for(slow.calling.wait(), 5)
        # The process has stopped; the order it had in hand was finished, not dropped.
        assert (await s.order(order_id)).status == "confirmed"


@pytest.mark.parametrize("price", ["5.00", "500.00"], ids=["confirmed", "declined"])
async def test_a_crash_after_any_step_resumes_with_every_effect_once(
    nats_url: str, price: str
) -> None:
    async with shop(nats_url) as s:
        await s.receive("a", 100)
        await s.receive("b", 100)
        expected: list[str] = []
        for crash_at in range(1, 8):
            order_id = await s.place(("a", 1, price), ("b", 2, price))
            placed = (await s.order_events(order_id))[0]
            gateway = SimulatedGateway(limit=Decimal(100))
            crashing = CrashingService(s.store, crash_at)
            with contextlib.suppress(Crash):
                await make_fulfilment(s.nc, gateway, CircuitBreaker(), service=crashing).handle(
                    placed
                )
            restarted = make_fulfilment(s.nc, gateway, CircuitBreaker())
            await restarted.handle(placed)
            await restarted.handle(placed)  # and a late redelivery on top
            effects = [
                f"{e.subject.split('.')[0]}:{type(e.event).__name__}"
                for subject in ("stock.a", "stock.b", f"payments.{order_id}")
                for e in (await s.store.load(subject)).events
                if getattr(e.event, "order_id", order_id) == order_id
                and e.envelope.correlation_id != "test"
            ]
            effects += [f"orders:{name}" for name in types(await s.order_events(order_id))]
            expected = expected or effects
            assert effects == expected, f"crash after step {crash_at}"
        reserved, placed_then = (
            ["stock:StockReserved", "stock:StockReserved"],
            ["orders:OrderPlaced"],
        )
        if price == "5.00":
            assert expected == [
                *reserved,
                "payments:PaymentAuthorized",
                *placed_then,
                "orders:OrderConfirmed",
            ]
            assert (await s.stock("a")).reserved == 7 and (await s.stock("b")).reserved == 14
        else:
            released = ["stock:StockReservationReleased"]
            assert expected == [
                reserved[0],
                *released,
                reserved[1],
                *released,
                "payments:PaymentDeclined",
                *placed_then,
                "orders:OrderRejected",
            ]
            assert (await s.stock("a")).reserved == 0 and (await s.stock("b")).reserved == 0
