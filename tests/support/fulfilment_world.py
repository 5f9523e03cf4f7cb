"""The fulfilment process on the in-memory store, for unit tests: a shop to set the scene,
the process to deliver order events to (as the consumer would), and a fake clock for the
payment deadline and the breaker. A "crash" is a failpoint that raises instead of exiting;
a new `process()` is a restarted process with an empty cache."""

import random
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import uuid4

from events.codec import RecordedEvent
from events.orders import OrderLine
from events.subjects import order_subject, payment_subject, stock_subject
from support.clock import FakeClock
from support.command_doubles import memory_store
from support.defaults import COMMAND_MAX_ATTEMPTS
from write_side.aggregates import ORDER, PAYMENT, STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.order import OrderCommand, OrderState, PlaceOrder
from write_side.domain.payment import PaymentState
from write_side.domain.stock import ReceiveStock, StockState
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.plan import Outcome
from write_side.fulfilment.process import Fulfilment
from write_side.fulfilment.simulator import SimulatedGateway
from write_side.in_memory import InMemoryEventStore

DEADLINE = 30.0
LIMIT = Decimal(100)


class Crash(Exception):
    """The process died at a failpoint (in production: os._exit)."""


@dataclass
class CrashAt:
    """Failpoints that raise Crash the `nth` time they pass `point` (None: never), and
    remember every point passed."""

    point: str | None = None
    nth: int = 1
    passed: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> None:
        self.passed.append(name)
        if name == self.point and self.passed.count(name) == self.nth:
            raise Crash(f"{name} #{self.nth}")


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    store: InMemoryEventStore = field(default_factory=memory_store)
    gateway: SimulatedGateway = field(
        default_factory=lambda: SimulatedGateway(limit=LIMIT, rng=random.Random(3))
    )
    breaker: CircuitBreaker | None = None

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = CircuitBreaker(failure_threshold=3, reset_timeout=5.0, clock=self.clock)
        self.shop = CommandService(self.store, max_attempts=COMMAND_MAX_ATTEMPTS)

    def process(self, failpoint: CrashAt | None = None) -> Fulfilment:
        """A fulfilment process as started afresh: its own command service and cache."""
        assert self.breaker is not None
        service = CommandService(self.store, max_attempts=COMMAND_MAX_ATTEMPTS)
        payments = GuardedGateway(self.gateway, self.breaker, max_attempts=1)
        return Fulfilment(
            service,
            payments,
            deadline_seconds=DEADLINE,
            call_budget=1.0,
            clock=self.clock.utc,
            rng=random.Random(7),
            failpoint=failpoint or CrashAt(),
        )

    async def receive(self, sku: str, quantity: int) -> None:
        await self.shop.handle(STOCK_ITEM, sku, ReceiveStock(quantity), Metadata("test"))

    async def place(self, *lines: tuple[str, int, str]) -> str:
        order_id = str(uuid4())
        order_lines = tuple(
            OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(price))
            for sku, quantity, price in lines
        )
        command = PlaceOrder(customer_id="c1", currency="EUR", lines=order_lines)
        await self.shop.handle(ORDER, order_id, command, Metadata(f"corr-{order_id}"))
        return order_id

    async def command(self, order_id: str, command: OrderCommand) -> None:
        await self.shop.handle(ORDER, order_id, command, Metadata("test"))

    async def order_event(self, order_id: str, event_type: str) -> RecordedEvent:
        """The order's last event of that type, as the consumer would deliver it."""
        events = (await self.store.load(order_subject(order_id))).events
        return [recorded for recorded in events if recorded.event_type == event_type][-1]

    async def deliver(
        self, order_id: str, event_type: str, process: Fulfilment | None = None
    ) -> Outcome:
        recorded = await self.order_event(order_id, event_type)
        return await (process or self.process()).handle(recorded)

    async def order(self, order_id: str) -> OrderState:
        return (await self.shop.load(ORDER, order_id))[0]

    async def stock(self, sku: str) -> StockState:
        return (await self.shop.load(STOCK_ITEM, sku))[0]

    async def payment(self, order_id: str) -> PaymentState:
        return (await self.shop.load(PAYMENT, order_id))[0]

    async def history(self, order_id: str, *skus: str) -> dict[str, list[str]]:
        """The event types on the order's, its payment's and the SKUs' subjects."""
        subjects = {
            "order": order_subject(order_id),
            "payment": payment_subject(order_id),
            **{sku: stock_subject(sku) for sku in skus},
        }
        return {
            name: [e.event_type for e in (await self.store.load(subject)).events]
            for name, subject in subjects.items()
        }
