"""The command service on the in-memory store: given events, when a command, then what is
stored and answered; conflicts are retried on fresh state until they run out."""

import asyncio

import pytest

from events.stock import StockAdjusted, StockReceived, StockReservationReleased, StockReserved
from events.subjects import Position
from support.command_doubles import RacedStore, RecordingObserver, given, memory_store, stored
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata, deterministic_event_id
from write_side.domain.stock import (
    AdjustStock,
    OutOfStock,
    ReceiveStock,
    ReleaseReservation,
    ReserveStock,
)
from write_side.errors import ConcurrencyConflict
from write_side.ports import EventStore

META = Metadata(correlation_id="corr-1")


def service_on(
    store: EventStore, *, max_attempts: int = 10, observer: RecordingObserver | None = None
) -> CommandService:
    return CommandService(store, max_attempts=max_attempts, observer=observer)


async def test_a_command_appends_its_events_and_answers_where_they_are() -> None:
    store = memory_store()
    await given(store, "stock.A", StockReceived(quantity=5))
    observer = RecordingObserver()

    result = await service_on(store, observer=observer).handle(
        STOCK_ITEM, "A", ReserveStock("o1", 2), META
    )

    assert result.events == [StockReserved(order_id="o1", quantity=2)]
    assert result.position == Position("STOCK", 2)
    assert (result.state.on_hand, result.state.reserved) == (5, 2)
    assert await stored(store, "stock.A") == [StockReceived(quantity=5), *result.events]
    assert observer.outcomes == [("ReserveStock", "appended")]
    assert observer.appended == [("STOCK", 1)]


async def test_a_command_that_changes_nothing_appends_nothing() -> None:
    store = memory_store()
    await given(store, "stock.A", StockReceived(quantity=5))
    observer = RecordingObserver()

    result = await service_on(store, observer=observer).handle(
        STOCK_ITEM, "A", ReleaseReservation("nobody"), META
    )

    assert (result.events, result.position) == ([], Position("STOCK", 1))
    assert await stored(store, "stock.A") == [StockReceived(quantity=5)]
    assert observer.outcomes == [("ReleaseReservation", "unchanged")]


async def test_a_refused_command_stores_nothing_and_says_why() -> None:
    store = memory_store()
    await given(store, "stock.A", StockReceived(quantity=1))
    observer = RecordingObserver()

    with pytest.raises(OutOfStock) as refused:
        await service_on(store, observer=observer).handle(
            STOCK_ITEM, "A", ReserveStock("o1", 2), META
        )

    assert (refused.value.wanted, refused.value.available) == (2, 1)
    assert await stored(store, "stock.A") == [StockReceived(quantity=1)]
    assert observer.outcomes == [("ReserveStock", "refused")]


async def test_events_carry_the_request_lineage() -> None:
    store = memory_store()
    keyed = Metadata(correlation_id="corr-7", causation_id="evt-3", idempotency_key="k")

    await service_on(store).handle(STOCK_ITEM, "A", ReceiveStock(1), META)
    await service_on(store).handle(STOCK_ITEM, "B", ReceiveStock(1), keyed)

    plain = (await store.load("stock.A")).events[0].envelope
    assert (plain.correlation_id, plain.causation_id) == ("corr-1", "corr-1")
    derived = (await store.load("stock.B")).events[0].envelope
    assert derived.event_id == deterministic_event_id("k", "stock.B", "StockReceived", 0)
    assert (derived.correlation_id, derived.causation_id) == ("corr-7", "evt-3")


async def test_a_key_reused_for_another_sku_or_command_is_not_a_duplicate() -> None:
    # JetStream drops a known event id anywhere in the stream; a client reusing its
    # Idempotency-Key on another path must still get its events stored.
    store = memory_store()
    keyed = Metadata(correlation_id="c", idempotency_key="client-key")
    await service_on(store).handle(STOCK_ITEM, "A", ReceiveStock(5), keyed)

    other_sku = await service_on(store).handle(STOCK_ITEM, "B", ReceiveStock(7), keyed)
    other_command = await service_on(store).handle(STOCK_ITEM, "A", AdjustStock(-1, "x"), keyed)

    assert (other_sku.position, other_command.position) == (
        Position("STOCK", 2),
        Position("STOCK", 3),
    )
    assert await stored(store, "stock.B") == [StockReceived(quantity=7)]
    assert await stored(store, "stock.A") == [
        StockReceived(quantity=5),
        StockAdjusted(delta=-1, reason="x"),
    ]


async def test_a_conflict_is_decided_again_on_what_the_other_writer_stored() -> None:
    store = RacedStore()
    await given(store, "stock.A", StockReceived(quantity=5))
    store.race("stock.A", lambda: StockReserved(order_id="theirs", quantity=2), times=1)
    observer = RecordingObserver()

    result = await service_on(store, observer=observer).handle(
        STOCK_ITEM, "A", ReserveStock("ours", 2), META
    )

    assert result.position == Position("STOCK", 3)
    assert dict(result.state.reservations) == {"theirs": 2, "ours": 2}
    assert observer.conflicts == ["STOCK"]
    assert observer.outcomes == [("ReserveStock", "appended")]


async def test_a_conflict_can_turn_into_a_refusal() -> None:
    store = RacedStore()
    await given(store, "stock.A", StockReceived(quantity=5))
    store.race("stock.A", lambda: StockReserved(order_id="theirs", quantity=4), times=1)

    with pytest.raises(OutOfStock):
        await service_on(store).handle(STOCK_ITEM, "A", ReserveStock("ours", 2), META)

    assert await stored(store, "stock.A") == [
        StockReceived(quantity=5),
        StockReserved(order_id="theirs", quantity=4),
    ]


async def test_conflicts_are_retried_until_one_attempt_gets_through() -> None:
    store = RacedStore()
    await given(store, "stock.A", StockReceived(quantity=5))
    store.race("stock.A", lambda: StockReceived(quantity=1), times=4)
    observer = RecordingObserver()

    result = await service_on(store, max_attempts=5, observer=observer).handle(
        STOCK_ITEM, "A", ReserveStock("ours", 3), META
    )

    assert result.position == Position("STOCK", 6)
    assert len(observer.conflicts) == 4
    assert observer.outcomes == [("ReserveStock", "appended")]


async def test_conflicts_past_max_attempts_give_up_with_a_conflict() -> None:
    store = RacedStore()
    await given(store, "stock.A", StockReceived(quantity=5))
    store.race("stock.A", lambda: StockReceived(quantity=1), times=100)
    observer = RecordingObserver()

    with pytest.raises(ConcurrencyConflict) as gave_up:
        await service_on(store, max_attempts=3, observer=observer).handle(
            STOCK_ITEM, "A", ReserveStock("ours", 1), META
        )

    assert gave_up.value.subject == "stock.A"
    assert len(observer.conflicts) == 3
    assert observer.outcomes == [("ReserveStock", "conflict")]
    assert StockReserved(order_id="ours", quantity=1) not in await stored(store, "stock.A")


async def test_one_attempt_means_no_retry() -> None:
    store = RacedStore()
    await given(store, "stock.A", StockReceived(quantity=5))
    store.race("stock.A", lambda: StockReceived(quantity=1), times=1)

    with pytest.raises(ConcurrencyConflict):
        await service_on(store, max_attempts=1).handle(
            STOCK_ITEM, "A", ReserveStock("ours", 1), META
        )

    assert store.times == 0


async def test_concurrent_commands_on_one_aggregate_all_land() -> None:
    store = memory_store()
    await given(store, "stock.HOT", StockReceived(quantity=40))
    services = [service_on(store, max_attempts=100) for _ in range(4)]  # four processes

    await asyncio.gather(
        *(
            services[n % 4].handle(STOCK_ITEM, "HOT", ReserveStock(f"o{n}", 2), META)
            for n in range(20)
        )
    )

    state, last_seq = await service_on(store).load(STOCK_ITEM, "HOT")
    assert (state.reserved, len(state.reservations), last_seq) == (40, 20, 21)
    with pytest.raises(OutOfStock):
        await services[0].handle(STOCK_ITEM, "HOT", ReserveStock("late", 1), META)
    released = StockReservationReleased(order_id="o0", quantity=2)
    assert released not in await stored(store, "stock.HOT")
