"""Snapshots on JetStream: a stock item with thousands of events is snapshotted into a real
key-value bucket, and a cold command service starts from that snapshot (read through
nats-py's key-value get, or by a direct get where the bucket allows them), reads only the
events after it, and decides and appends on the result."""

from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from events.base import Event
from events.envelope import Envelope
from events.stock import StockReceived, StockReservationReleased, StockReserved
from support.defaults import COMMAND_MAX_ATTEMPTS
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.stock import ReserveStock
from write_side.event_store import JetStreamEventStore
from write_side.key_value import open_key_value
from write_side.ports import PendingEvent
from write_side.snapshots import Snapshots

pytestmark = pytest.mark.integration
EVENTS = 3000


async def long_history(store: JetStreamEventStore, sku: str) -> int:
    """A receipt, then reservations and releases: EVENTS events in atomic batches."""
    events: list[Event] = [StockReceived(quantity=10**6)]
    for n in range(1, EVENTS, 2):
        events.append(StockReserved(order_id=f"o{n}", quantity=1))
        events.append(StockReservationReleased(order_id=f"o{n}", quantity=1))
    last = 0
    for start in range(0, len(events), 1000):
        batch = [PendingEvent(event, Envelope()) for event in events[start : start + 1000]]
        last = (await store.append(f"stock.{sku}", batch, last)).last_seq
    return last


@pytest.mark.parametrize("direct", [False, True], ids=["kv-get", "direct-get"])
async def test_a_cold_service_starts_from_the_snapshot(
    nc: NATS, store: JetStreamEventStore, direct: bool
) -> None:
    sku = f"SNAP-{uuid4().hex[:8]}"
    last = await long_history(store, sku)
    bucket = await open_key_value(
        nc.jetstream(),
        f"snapshots_{uuid4().hex[:8]}",
        ttl_seconds=None,
        replicas=1,
        description="test",
        direct=direct,  # as `tally migrate` makes the snapshot bucket now
    )
    assert bucket.reads_directly == direct
    warm_snapshots = Snapshots(bucket, store, every=1000)
    warm = CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS, snapshots=warm_snapshots)
    folded, seq = await warm.load(STOCK_ITEM, sku)  # 3,000 events folded: a snapshot
    await warm_snapshots.flush()
    assert seq == last and folded.on_hand == 10**6 and folded.reserved == 0

    reads: list[int] = []
    load = store.load

    async def counted(subject: str, *, from_seq: int = 1):  # type: ignore[no-untyped-def]
        reads.append(from_seq)
        return await load(subject, from_seq=from_seq)

    store.load = counted  # type: ignore[method-assign]
    cold = CommandService(
        store, max_attempts=COMMAND_MAX_ATTEMPTS, snapshots=Snapshots(bucket, store, every=1000)
    )
    done = await cold.handle(STOCK_ITEM, sku, ReserveStock("late", 5), Metadata("corr"))

    assert reads == [last + 1]  # nothing before the snapshot was read
    assert dict(done.state.reservations) == {"late": 5} and done.state.on_hand == 10**6
    assert (await warm.load(STOCK_ITEM, sku))[0] == done.state
