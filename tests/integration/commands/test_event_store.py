"""The event store's contract, against a real JetStream."""

import asyncio
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from events.envelope import MSG_ID, Envelope
from events.stock import StockReceived, StockReserved
from write_side.errors import ConcurrencyConflict
from write_side.event_store import JetStreamEventStore, PendingEvent

pytestmark = pytest.mark.integration


def received(quantity: int, envelope: Envelope | None = None) -> PendingEvent:
    return PendingEvent(StockReceived(quantity=quantity), envelope or Envelope())


async def test_append_then_load_in_order(store: JetStreamEventStore) -> None:
    first = await store.append("stock.A", [received(1)], expected_seq=0)
    await store.append("stock.B", [received(9)], expected_seq=0)
    second = await store.append("stock.A", [received(2), received(3)], expected_seq=first.last_seq)
    assert (first.position.stream, first.last_seq) == ("STOCK", 1)
    assert (second.first_seq, second.last_seq) == (3, 4)
    loaded = await store.load("stock.A")
    assert [e.event for e in loaded.events] == [
        StockReceived(quantity=1),
        StockReceived(quantity=2),
        StockReceived(quantity=3),
    ]
    assert [e.seq for e in loaded.events] == [1, 3, 4]
    assert loaded.last_seq == 4
    later = await store.load("stock.A", from_seq=4)
    assert [e.seq for e in later.events] == [4]


async def test_load_of_an_empty_subject(store: JetStreamEventStore) -> None:
    loaded = await store.load("stock.nothing")
    assert (loaded.events, loaded.last_seq) == ([], 0)


async def test_load_reads_past_one_direct_get_batch(store: JetStreamEventStore) -> None:
    last = 0
    for chunk in range(3):
        batch = [received(1) for _ in range(500)]
        last = (await store.append("stock.MANY", batch, expected_seq=last)).last_seq
        assert chunk >= 0
    loaded = await store.load("stock.MANY")
    assert len(loaded.events) == 1500
    assert loaded.last_seq == last


async def test_stale_expected_sequence_is_a_conflict(store: JetStreamEventStore) -> None:
    await store.append("stock.A", [received(1)], expected_seq=0)
    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append("stock.A", [received(1)], expected_seq=0)
    assert conflict.value.actual == 1
    with pytest.raises(ConcurrencyConflict):
        await store.append("stock.A", [received(1), received(2)], expected_seq=0)
    assert len((await store.load("stock.A")).events) == 1


async def test_a_failed_multi_event_append_leaves_nothing(store: JetStreamEventStore) -> None:
    await store.append("stock.A", [received(5)], expected_seq=0)
    bad = [received(1), received(2), received(3)]
    with pytest.raises(ConcurrencyConflict):
        await store.append("stock.A", bad, expected_seq=7)
    loaded = await store.load("stock.A")
    assert [e.event for e in loaded.events] == [StockReceived(quantity=5)]


async def test_the_same_event_id_is_stored_once(store: JetStreamEventStore, nc: NATS) -> None:
    envelope = Envelope()
    first = await store.append("stock.A", [received(1, envelope)], expected_seq=0)
    # A retry of the same append (same event id, same expectation) is not a second event.
    again = await store.append("stock.A", [received(1, envelope)], expected_seq=0)
    assert again.last_seq == first.last_seq
    loaded = await store.load("stock.A")
    assert len(loaded.events) == 1
    last = await nc.jetstream().get_last_msg("STOCK", "stock.A")
    assert last.headers is not None and last.headers[MSG_ID] == str(envelope.event_id)


async def test_a_retried_batch_is_recognised(store: JetStreamEventStore) -> None:
    batch = [received(1), received(2)]
    first = await store.append("stock.A", batch, expected_seq=0)
    again = await store.append("stock.A", batch, expected_seq=0)
    assert (again.first_seq, again.last_seq) == (first.first_seq, first.last_seq)
    assert len((await store.load("stock.A")).events) == 2


async def test_headers_carry_the_envelope(store: JetStreamEventStore, nc: NATS) -> None:
    envelope = Envelope(correlation_id="corr-9", causation_id="cause-9")
    order_id = str(uuid4())
    event = StockReserved(order_id=order_id, quantity=2)
    await store.append("stock.A", [PendingEvent(event, envelope)], expected_seq=0)
    message = await nc.jetstream().get_last_msg("STOCK", "stock.A")
    assert message.headers is not None
    assert message.headers["Tally-Event-Type"] == "StockReserved"
    assert message.headers["Tally-Event-Version"] == "1"
    assert message.headers["Tally-Correlation-Id"] == "corr-9"
    assert message.headers["Tally-Causation-Id"] == "cause-9"
    assert message.headers["Tally-Occurred-At"].endswith("Z")
    assert message.headers[MSG_ID] == str(envelope.event_id)


async def test_fifty_concurrent_appends_with_retries(store: JetStreamEventStore) -> None:
    async def append_one(index: int) -> int:
        while True:
            loaded = await store.load("stock.HOT")
            try:
                result = await store.append("stock.HOT", [received(index + 1)], loaded.last_seq)
                return result.last_seq
            except ConcurrencyConflict:
                await asyncio.sleep(0.001 * (index % 7))

    seqs = await asyncio.gather(*(append_one(i) for i in range(50)))
    loaded = await store.load("stock.HOT")
    assert len(loaded.events) == 50
    assert sorted(seqs) == [e.seq for e in loaded.events] == list(range(1, 51))
    quantities = sorted(e.event.quantity for e in loaded.events)  # type: ignore[attr-defined]
    assert quantities == list(range(1, 51))  # no update lost, none doubled
