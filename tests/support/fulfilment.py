"""A running fulfilment process on a test NATS server, and helpers to drive and read it
through the write side (the read model belongs to the projections)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar
from uuid import uuid4

import nats
from nats.aio.client import Client as NATS

from events.codec import RecordedEvent
from events.orders import OrderLine
from events.subjects import order_subject, stock_subject
from support.defaults import COMMAND_MAX_ATTEMPTS, TEST_NATS_TIMEOUT
from write_side.aggregates import ORDER, PAYMENT, STOCK_ITEM, Aggregate
from write_side.command_service import CommandResult, CommandService, Metadata
from write_side.domain.order import OrderCommand, OrderState, PlaceOrder, Status
from write_side.domain.payment import PaymentState
from write_side.domain.stock import ReceiveStock, StockState
from write_side.event_store import JetStreamEventStore
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.consumer import FulfilmentConsumer, ensure_consumer
from write_side.fulfilment.gateway import PaymentGateway, PaymentRequest, PaymentResult
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.process import Fulfilment
from write_side.fulfilment.simulator import SimulatedGateway
from write_side.ports import EventStore
from write_side.streams import StreamSettings, ensure_streams

FINAL: frozenset[Status] = frozenset({"confirmed", "rejected", "cancelled", "shipped"})


@dataclass
class Shop:
    """The write side as a client sees it: place orders, receive stock, read aggregates."""

    nc: NATS
    service: CommandService
    store: EventStore

    async def receive(self, sku: str, quantity: int) -> None:
        await self.service.handle(STOCK_ITEM, sku, ReceiveStock(quantity), Metadata("test"))

    async def place(self, *lines: tuple[str, int, str], correlation_id: str = "") -> str:
        order_id = str(uuid4())
        order_lines = tuple(
            OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(price))
            for sku, quantity, price in lines
        )
        command = PlaceOrder(customer_id="c1", currency="EUR", lines=order_lines)
        meta = Metadata(correlation_id or f"corr-{order_id}")
        await self.service.handle(ORDER, order_id, command, meta)
        return order_id

    async def command(self, order_id: str, command: OrderCommand) -> None:
        await self.service.handle(ORDER, order_id, command, Metadata("test"))

    async def order(self, order_id: str) -> OrderState:
        return (await self.service.load(ORDER, order_id))[0]

    async def stock(self, sku: str) -> StockState:
        return (await self.service.load(STOCK_ITEM, sku))[0]

    async def payment(self, order_id: str) -> PaymentState:
        return (await self.service.load(PAYMENT, order_id))[0]

    async def order_events(self, order_id: str) -> list[RecordedEvent]:
        return (await self.store.load(order_subject(order_id))).events

    async def stock_events(self, sku: str) -> list[RecordedEvent]:
        return (await self.store.load(stock_subject(sku))).events

    async def settled(
        self, order_ids: Iterable[str], final: Iterable[Status] = FINAL, timeout: float = 15.0
    ) -> dict[str, OrderState]:
        """Waits until every order has one of the `final` statuses."""
        wanted, pending = set(final), list(order_ids)
        states: dict[str, OrderState] = {}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(pending)} orders not settled: {states}")
            for order_id in list(pending):
                states[order_id] = await self.order(order_id)
                if states[order_id].status in wanted:
                    pending.remove(order_id)
            if pending:
                await asyncio.sleep(0.02)
        return states

    async def eventually(self, check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)


@dataclass
class Process:
    gateway: SimulatedGateway
    breaker: CircuitBreaker
    fulfilment: Fulfilment


async def connect(url: str) -> NATS:
    return await nats.connect(url, connect_timeout=2, max_reconnect_attempts=5)


@contextlib.asynccontextmanager
async def shop(url: str) -> AsyncIterator[Shop]:
    nc = await connect(url)
    await ensure_streams(nc.jetstream(), StreamSettings())
    store = JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT)
    try:
        yield Shop(nc, CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS), store)
    finally:
        await nc.close()


def make_fulfilment(
    nc: NATS,
    gateway: PaymentGateway,
    breaker: CircuitBreaker,
    *,
    deadline: float = 30.0,
    service: CommandService | None = None,
) -> Fulfilment:
    guarded = GuardedGateway(gateway, breaker, max_attempts=2, backoff_base=0.01, backoff_max=0.02)
    service = service or CommandService(
        JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT), max_attempts=COMMAND_MAX_ATTEMPTS
    )
    return Fulfilment(service, guarded, deadline_seconds=deadline, call_budget=1.0)


@contextlib.asynccontextmanager
async def fulfilling(
    url: str,
    *,
    gateway: SimulatedGateway | None = None,
    wrapped: PaymentGateway | None = None,
    deadline: float = 30.0,
    breaker: CircuitBreaker | None = None,
) -> AsyncIterator[Process]:
    """The process manager running on its own connection, stopped gracefully at the end."""
    gateway = gateway or SimulatedGateway(limit=Decimal(10000))
    breaker = breaker or CircuitBreaker(failure_threshold=3, reset_timeout=0.5)
    nc = await connect(url)
    await ensure_streams(nc.jetstream(), StreamSettings())
    await ensure_consumer(nc.jetstream())
    fulfilment = make_fulfilment(nc, wrapped or gateway, breaker, deadline=deadline)
    stop = asyncio.Event()
    task = asyncio.create_task(FulfilmentConsumer(nc, fulfilment.handle).run(stop))
    try:
        yield Process(gateway, breaker, fulfilment)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await nc.close()


class SlowGateway:
    """Takes its time to authorize, so a cancellation can land in between."""

    def __init__(self, inner: SimulatedGateway, pause: float) -> None:
        self.inner = inner
        self.pause = pause
        self.calling = asyncio.Event()

    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        self.calling.set()
        await asyncio.sleep(self.pause)
        return await self.inner.authorize(request)

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        await self.inner.refund(order_id, authorization_id, amount)

    async def aclose(self) -> None:
        return None


S = TypeVar("S")
C = TypeVar("C")


class Crash(Exception):
    pass


class CrashingService(CommandService):
    """Stores the `crash_at`-th command's events, then dies before the next step."""

    def __init__(self, store: EventStore, crash_at: int) -> None:
        super().__init__(store, max_attempts=COMMAND_MAX_ATTEMPTS)
        self.crash_at = crash_at
        self.handled = 0

    async def handle(
        self,
        aggregate: Aggregate[S, C],
        aggregate_id: str,
        command: C,
        meta: Metadata,
        *,
        new: bool = False,
    ) -> CommandResult[S]:
        result = await super().handle(aggregate, aggregate_id, command, meta, new=new)
        self.handled += 1
        if self.handled == self.crash_at:
            raise Crash(f"after step {self.handled}")
        return result
