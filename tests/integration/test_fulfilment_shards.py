"""Stock commands done by the SKU's owner among the fulfilment processes (shards), on a real
NATS server: a command on a SKU another shard owns is decided and appended by that shard's
process, a shortage there is the asker's shortage, and with no owner running the asker does
it itself; two processes fulfilling as shards of each other confirm every order without a
conflict."""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import pytest
from nats.aio.client import Client as NATS

from support.defaults import COMMAND_MAX_ATTEMPTS, TEST_NATS_TIMEOUT
from support.fulfilment import connect, shop
from write_side.command_service import CommandService, Metadata
from write_side.domain.stock import OutOfStock, ReserveStock
from write_side.event_store import JetStreamEventStore
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.consumer import FulfilmentConsumer, ensure_consumer
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.process import Fulfilment
from write_side.fulfilment.simulator import SimulatedGateway
from write_side.fulfilment.stock_owners import OwnedStock, Shard, StockOwner, owner_of
from write_side.jetstream_wire import JetStreamWire
from write_side.ports import AppendResult, PendingEvent

pytestmark = pytest.mark.integration


class Counted:
    """A command observer that counts appended commands and conflicts."""

    def __init__(self) -> None:
        self.appended: Counter[str] = Counter()
        self.conflicts = 0

    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        if outcome == "appended":
            self.appended[command] += 1

    def events_appended(self, stream: str, count: int) -> None:
        pass

    def conflict(self, stream: str) -> None:
        self.conflicts += 1

    def cache_evicted(self, recent: bool) -> None:
        pass


def sku_owned_by(shard: int, prefix: str) -> str:
    return next(f"{prefix}-{n}" for n in range(100) if owner_of(f"{prefix}-{n}", 2) == shard)


def service_on(nc: NATS, observer: Counted) -> CommandService:
    store = JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT)
    return CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS, observer=observer)


@contextlib.asynccontextmanager
async def owner(url: str, shard: Shard, observer: Counted) -> AsyncIterator[StockOwner]:
    nc = await connect(url)
    serving = StockOwner(nc, service_on(nc, observer), shard)
    await serving.start()
    try:
        yield serving
    finally:
        await serving.close()
        await nc.close()


async def asker(nc: NATS, observer: Counted, shard: Shard) -> OwnedStock:
    wire = JetStreamWire.of(nc)
    await wire.start()
    return OwnedStock(service_on(nc, observer), wire, shard, timeout=TEST_NATS_TIMEOUT)


async def test_a_command_on_a_sku_another_shard_owns_is_done_by_its_owner(nats_url: str) -> None:
    theirs, mine = sku_owned_by(1, "owned"), sku_owned_by(0, "owned")
    at_owner, here = Counted(), Counted()
    async with shop(nats_url) as s, owner(nats_url, Shard(1, 2), at_owner):
        await s.receive(theirs, 3)
        await s.receive(mine, 3)
        stock = await asker(s.nc, here, Shard(0, 2))
        await stock.handle(theirs, ReserveStock("o-1", 2), Metadata("c-1", None, "k-1"))
        await stock.handle(mine, ReserveStock("o-1", 1), Metadata("c-1", None, "k-2"))
        assert at_owner.appended == {"ReserveStock": 1}  # the owner's SKU, by the owner
        assert here.appended == {"ReserveStock": 1}  # the asker's own SKU, by itself
        assert dict((await s.stock(theirs)).reservations) == {"o-1": 2}
        assert dict((await s.stock(mine)).reservations) == {"o-1": 1}
        # the same step asked again changes nothing (the owner decides it on its state)
        await stock.handle(theirs, ReserveStock("o-1", 2), Metadata("c-1", None, "k-1"))
        assert at_owner.appended == {"ReserveStock": 1}
        # a shortage at the owner is the asker's shortage, with its figures
        with pytest.raises(OutOfStock) as short:
            await stock.handle(theirs, ReserveStock("o-2", 5), Metadata("c-2", None, "k-3"))
        assert (short.value.sku, short.value.wanted, short.value.available) == (theirs, 5, 1)
        assert dict((await s.stock(theirs)).reservations) == {"o-1": 2}
        assert here.appended == {"ReserveStock": 1}  # not tried again here


async def test_with_no_owner_running_the_asker_does_it_itself(nats_url: str) -> None:
    theirs = sku_owned_by(1, "orphan")
    here = Counted()
    async with shop(nats_url) as s:
        await s.receive(theirs, 3)
        stock = await asker(s.nc, here, Shard(0, 2))
        await stock.handle(theirs, ReserveStock("o-1", 2), Metadata("c-1", None, "k-1"))
        assert here.appended == {"ReserveStock": 1}
        assert dict((await s.stock(theirs)).reservations) == {"o-1": 2}


class RecordingStore(JetStreamEventStore):
    """Records the subject of every append this process tries (stored or refused)."""

    def __init__(self, nc: NATS) -> None:
        super().__init__(nc, timeout=TEST_NATS_TIMEOUT)
        self.tried: Counter[str] = Counter()

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        self.tried[subject] += 1
        return await super().append(subject, events, expected_seq)


async def test_two_shards_fulfil_every_order_without_a_conflict(nats_url: str) -> None:
    skus = [f"shard-{n}" for n in range(6)]
    stores: list[RecordingStore] = []
    async with shop(nats_url) as s, contextlib.AsyncExitStack() as running:
        for sku in skus:
            await s.receive(sku, 1_000)
        await ensure_consumer(s.nc.jetstream())
        stop = asyncio.Event()
        consumers: list[asyncio.Task[None]] = []
        for index in range(2):
            nc = await connect(nats_url)
            running.push_async_callback(nc.close)
            shard, store = Shard(index, 2), RecordingStore(nc)
            stores.append(store)
            service = CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS)
            serving = StockOwner(nc, service, shard)
            await serving.start()
            running.push_async_callback(serving.close)
            stock = OwnedStock(service, JetStreamWire.of(nc), shard, timeout=TEST_NATS_TIMEOUT)
            payments = GuardedGateway(SimulatedGateway(limit=Decimal(10_000)), CircuitBreaker())
            fulfilment = Fulfilment(service, payments, call_budget=1.0, stock=stock)
            consumer = FulfilmentConsumer(nc, fulfilment.handle, concurrency=16)
            consumers.append(asyncio.create_task(consumer.run(stop)))
        try:
            ids = [
                await s.place((skus[n % 6], 1, "1.00"), (skus[(n + 1) % 6], 2, "1.00"))
                for n in range(60)
            ]
            states = await s.settled(ids, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*consumers), 10)
        holding = {sku: (await s.stock(sku)).reservations for sku in skus}
    assert {state.status for state in states.values()} == {"confirmed"}
    assert {sku: len(held) for sku, held in holding.items()} == dict.fromkeys(skus, 20)
    # each stock item written by its owner's process alone, one append per reservation
    for index, store in enumerate(stores):
        stock_appends = {s: n for s, n in store.tried.items() if s.startswith("stock.")}
        assert stock_appends == {f"stock.{sku}": 20 for sku in skus if owner_of(sku, 2) == index}, (
            index
        )
