"""The event-store contract (`write_side.ports.EventStore`), run against every adapter:
the in-memory one in the unit tier, JetStream in the integration tier.

A subclass provides two fixtures: `make_store(duplicate_window)`, an empty store whose
streams remember event ids for that many seconds, and `elapse(seconds)`, which lets that
much time pass for the store (a fake clock, or real sleep).
"""

import asyncio
from collections.abc import Awaitable, Callable
from uuid import uuid4

import pytest

from events.envelope import Envelope
from events.orders import OrderCancelled
from events.stock import StockReceived
from events.subjects import InvalidSubject
from write_side.errors import ConcurrencyConflict
from write_side.ports import EventStore, PendingEvent

MakeStore = Callable[[float], Awaitable[EventStore]]
Elapse = Callable[[float], Awaitable[None]]
WINDOW = 120.0  # the streams' default duplicate window


def received(quantity: int, envelope: Envelope | None = None) -> PendingEvent:
    return PendingEvent(StockReceived(quantity=quantity), envelope or Envelope())


async def quantities(store: EventStore, subject: str) -> list[int]:
    loaded = await store.load(subject)
    return [getattr(recorded.event, "quantity", -1) for recorded in loaded.events]


class EventStoreContract:
    @pytest.fixture
    async def store(self, make_store: MakeStore) -> EventStore:
        return await make_store(WINDOW)

    async def test_appended_events_load_back_in_stream_order(self, store: EventStore) -> None:
        first = await store.append("stock.A", [received(1)], expected_seq=0)
        await store.append("stock.B", [received(9)], expected_seq=0)
        second = await store.append("stock.A", [received(2), received(3)], first.last_seq)
        assert (first.position.stream, first.first_seq, first.last_seq) == ("STOCK", 1, 1)
        assert (second.first_seq, second.last_seq) == (3, 4)
        loaded = await store.load("stock.A")
        assert [e.event for e in loaded.events] == [StockReceived(quantity=q) for q in (1, 2, 3)]
        assert [e.seq for e in loaded.events] == [1, 3, 4]
        assert [e.subject for e in loaded.events] == ["stock.A"] * 3
        assert loaded.last_seq == 4
        later = await store.load("stock.A", from_seq=4)
        assert ([e.seq for e in later.events], later.last_seq) == ([4], 4)

    async def test_each_stream_numbers_its_own_messages(self, store: EventStore) -> None:
        order = f"orders.{uuid4()}"
        await store.append("stock.A", [received(1)], expected_seq=0)
        await store.append("stock.B", [received(1)], expected_seq=0)
        placed = await store.append(order, [PendingEvent(OrderCancelled(), Envelope())], 0)
        assert (placed.position.stream, placed.last_seq) == ("ORDERS", 1)
        assert (await store.load("stock.B")).events[0].seq == 2

    async def test_an_empty_subject_loads_nothing(self, store: EventStore) -> None:
        loaded = await store.load("stock.nothing")
        assert (loaded.events, loaded.last_seq) == ([], 0)
        await store.append("stock.A", [received(1)], expected_seq=0)
        past_the_end = await store.load("stock.A", from_seq=2)
        assert (past_the_end.events, past_the_end.last_seq) == ([], 0)

    async def test_the_envelope_comes_back_with_the_event(self, store: EventStore) -> None:
        envelope = Envelope(correlation_id="corr-9", causation_id="cause-9")
        await store.append("stock.A", [received(1, envelope)], expected_seq=0)
        assert (await store.load("stock.A")).events[0].envelope == envelope

    async def test_a_stale_expected_sequence_is_a_conflict(self, store: EventStore) -> None:
        await store.append("stock.A", [received(1)], expected_seq=0)
        with pytest.raises(ConcurrencyConflict) as single:
            await store.append("stock.A", [received(2)], expected_seq=0)
        with pytest.raises(ConcurrencyConflict) as batch:
            await store.append("stock.A", [received(3), received(4)], expected_seq=0)
        with pytest.raises(ConcurrencyConflict) as ahead:
            await store.append("stock.EMPTY", [received(5)], expected_seq=7)
        assert (single.value.expected, single.value.actual) == (0, 1)
        assert (batch.value.subject, batch.value.actual) == ("stock.A", 1)
        assert ahead.value.actual == 0
        assert await quantities(store, "stock.A") == [1]
        assert await quantities(store, "stock.EMPTY") == []

    async def test_a_refused_batch_stores_none_of_its_events(self, store: EventStore) -> None:
        await store.append("stock.A", [received(5)], expected_seq=0)
        with pytest.raises(ConcurrencyConflict):
            await store.append("stock.A", [received(1), received(2), received(3)], 7)
        assert await quantities(store, "stock.A") == [5]
        appended = await store.append("stock.A", [received(1), received(2)], expected_seq=1)
        assert (appended.first_seq, appended.last_seq) == (2, 3)

    async def test_a_retried_append_is_stored_once(self, store: EventStore) -> None:
        # The retry of an append whose answer was lost: same event id, same (now stale)
        # expectation. The subject's last message id shows it was ours.
        envelope = Envelope()
        first = await store.append("stock.A", [received(1, envelope)], expected_seq=0)
        again = await store.append("stock.A", [received(1, envelope)], expected_seq=0)
        assert (again.first_seq, again.last_seq) == (first.first_seq, first.last_seq)
        assert again.duplicate and not first.duplicate
        assert await quantities(store, "stock.A") == [1]

    async def test_a_retried_batch_is_stored_once(self, store: EventStore) -> None:
        batch = [received(1), received(2)]
        first = await store.append("stock.A", batch, expected_seq=0)
        again = await store.append("stock.A", batch, expected_seq=0)
        assert (again.first_seq, again.last_seq) == (first.first_seq, first.last_seq)
        assert again.duplicate and not first.duplicate
        assert await quantities(store, "stock.A") == [1, 2]

    async def test_a_known_event_id_answers_the_first_sequence(self, store: EventStore) -> None:
        # A step repeated with its deterministic ids after later events: dropped, and the
        # answer names the sequence first stored (at or below the expectation).
        envelope = Envelope()
        await store.append("stock.A", [received(1, envelope)], expected_seq=0)
        await store.append("stock.A", [received(2)], expected_seq=1)
        repeated = await store.append("stock.A", [received(1, envelope)], expected_seq=2)
        assert (repeated.first_seq, repeated.last_seq, repeated.duplicate) == (1, 1, True)
        assert await quantities(store, "stock.A") == [1, 2]

    async def test_event_ids_are_unique_across_the_stream(self, store: EventStore) -> None:
        envelope = Envelope()
        await store.append("stock.A", [received(1, envelope)], expected_seq=0)
        elsewhere = await store.append("stock.B", [received(1, envelope)], expected_seq=0)
        assert (elsewhere.first_seq, elsewhere.last_seq, elsewhere.duplicate) == (1, 1, True)
        assert await quantities(store, "stock.B") == []

    async def test_a_batch_holding_a_known_id_stores_nothing(self, store: EventStore) -> None:
        known = received(1)
        await store.append("stock.A", [known], expected_seq=0)
        await store.append("stock.A", [received(2)], expected_seq=1)
        with pytest.raises(ConcurrencyConflict):
            await store.append("stock.A", [received(3), known], expected_seq=2)
        twice = received(4)
        with pytest.raises(ConcurrencyConflict):
            await store.append("stock.A", [twice, twice], expected_seq=2)
        assert await quantities(store, "stock.A") == [1, 2]

    async def test_after_the_duplicate_window_an_id_is_new_again(
        self, make_store: MakeStore, elapse: Elapse
    ) -> None:
        store = await make_store(1.0)
        envelope = Envelope()
        await store.append("stock.A", [received(1, envelope)], expected_seq=0)
        await elapse(2.0)
        again = await store.append("stock.A", [received(1, envelope)], expected_seq=1)
        assert (again.first_seq, again.last_seq, again.duplicate) == (2, 2, False)
        assert await quantities(store, "stock.A") == [1, 1]

    async def test_last_message_names_the_newest_event(self, store: EventStore) -> None:
        assert await store.last_message("stock.A") is None
        newest = received(2)
        await store.append("stock.A", [received(1), newest], expected_seq=0)
        await store.append("stock.B", [received(3)], expected_seq=0)
        last = await store.last_message("stock.A")
        assert last is not None
        assert (last.seq, last.event_id) == (2, str(newest.envelope.event_id))

    async def test_an_append_holds_one_to_a_thousand_events(self, store: EventStore) -> None:
        with pytest.raises(ValueError):
            await store.append("stock.A", [], expected_seq=0)
        with pytest.raises(ValueError):
            await store.append("stock.A", [received(1) for _ in range(1001)], expected_seq=0)
        full = await store.append("stock.A", [received(1) for _ in range(1000)], expected_seq=0)
        assert (full.first_seq, full.last_seq) == (1, 1000)
        assert len((await store.load("stock.A", from_seq=990)).events) == 11

    async def test_only_aggregate_subjects_are_accepted(self, store: EventStore) -> None:
        for subject in ("stock", "stock.a.b", "other.A"):
            with pytest.raises(InvalidSubject):
                await store.append(subject, [received(1)], expected_seq=0)
            with pytest.raises(InvalidSubject):
                await store.load(subject)

    async def test_concurrent_writers_lose_no_update(self, store: EventStore) -> None:
        async def append_one(quantity: int) -> int:
            while True:
                loaded = await store.load("stock.HOT")
                try:
                    done = await store.append("stock.HOT", [received(quantity)], loaded.last_seq)
                    return done.last_seq
                except ConcurrencyConflict:
                    await asyncio.sleep(0.001 * (quantity % 7))

        seqs = await asyncio.gather(*(append_one(q) for q in range(1, 31)))
        assert sorted(seqs) == list(range(1, 31))
        assert sorted(await quantities(store, "stock.HOT")) == list(range(1, 31))
