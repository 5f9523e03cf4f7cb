"""The command service's cache of folded states, on the in-memory store: a stale cache is
caught by the expected sequence, refusals and no-ops are decided on fresh state only, a new
id is decided without reading, and a dropped duplicate is never cached as stored."""

from dataclasses import replace
from decimal import Decimal
from uuid import uuid4

import pytest

from events.orders import OrderCancelled, OrderLine, OrderPlaced
from events.stock import StockReceived, StockReservationReleased, StockReserved
from events.subjects import Position, order_subject
from support.command_doubles import (
    CountingStore,
    RecordingObserver,
    given,
    memory_store,
    stored,
)
from write_side.aggregates import ORDER, RESERVATIONS_PER_STATE, STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.order import CancelOrder, PlaceOrder
from write_side.domain.stock import (
    AdjustStock,
    OutOfStock,
    ReceiveStock,
    ReleaseReservation,
    ReserveStock,
)
from write_side.errors import RuleViolation
from write_side.ports import EventStore

META = Metadata(correlation_id="corr-1")
LINES = (OrderLine(sku="a", quantity=1, unit_price=Decimal("2.50")),)
PLACED = OrderPlaced(customer_id="c1", currency="EUR", lines=LINES, total=Decimal("2.50"))


def service_on(store: EventStore, *, cache_size: int = 100) -> CommandService:
    return CommandService(store, max_attempts=10, cache_size=cache_size)


async def test_a_cached_state_is_brought_up_to_date_before_a_decision() -> None:
    store = memory_store()
    ours, theirs = service_on(store), service_on(store)
    await ours.handle(STOCK_ITEM, "A", ReceiveStock(3), META)  # cached: 3 available
    await theirs.handle(STOCK_ITEM, "A", ReserveStock("o1", 3), META)

    with pytest.raises(OutOfStock) as refused:
        await ours.handle(STOCK_ITEM, "A", ReserveStock("o2", 1), META)

    assert refused.value.available == 0
    assert StockReserved(order_id="o2", quantity=1) not in await stored(store, "stock.A")


async def test_an_append_refused_on_a_stale_cache_is_counted_as_a_conflict() -> None:
    observer = RecordingObserver()
    store = memory_store()
    ours = CommandService(store, max_attempts=10, cache_size=100, observer=observer)
    theirs = service_on(store)
    await ours.handle(STOCK_ITEM, "A", ReceiveStock(5), META)  # cached at sequence 1
    await theirs.handle(STOCK_ITEM, "A", ReserveStock("o1", 1), META)

    result = await ours.handle(STOCK_ITEM, "A", ReserveStock("o2", 1), META)

    assert dict(result.state.reservations) == {"o1": 1, "o2": 1}
    assert observer.conflicts == ["STOCK"]  # the one append its stale state was refused
    assert observer.outcomes[-1] == ("ReserveStock", "appended")


async def test_a_refusal_on_the_cached_state_is_decided_again_on_fresh_state() -> None:
    store = memory_store()
    ours, theirs = service_on(store), service_on(store)
    await ours.handle(STOCK_ITEM, "A", ReceiveStock(1), META)  # cached: 1 available
    await theirs.handle(STOCK_ITEM, "A", ReceiveStock(5), META)

    result = await ours.handle(STOCK_ITEM, "A", ReserveStock("o1", 4), META)

    assert result.events == [StockReserved(order_id="o1", quantity=4)]
    assert result.position == Position("STOCK", 3)


async def test_a_no_op_on_the_cached_state_is_decided_again_on_fresh_state() -> None:
    store = memory_store()
    ours, theirs = service_on(store), service_on(store)
    await ours.handle(STOCK_ITEM, "A", ReceiveStock(5), META)
    await ours.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), META)  # cached: o1 holds 2
    await theirs.handle(STOCK_ITEM, "A", ReleaseReservation("o1"), META)

    result = await ours.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), META)

    assert result.events == [StockReserved(order_id="o1", quantity=2)]
    assert dict(result.state.reservations) == {"o1": 2}


async def test_not_found_on_the_cached_state_is_decided_again_on_fresh_state() -> None:
    store = memory_store()
    order_id = str(uuid4())
    ours = service_on(store)
    await ours.load(ORDER, order_id)  # cached: no such order
    await given(store, order_subject(order_id), PLACED)

    result = await ours.handle(ORDER, order_id, CancelOrder("changed my mind"), META)

    assert result.events == [OrderCancelled(reason="changed my mind")]


async def test_a_cached_state_saves_reading_what_was_read_before() -> None:
    store = CountingStore()
    service = service_on(store)
    await service.handle(STOCK_ITEM, "A", ReceiveStock(5), META)
    await given(store, "stock.A", StockReceived(quantity=1))  # another process
    store.reads.clear()

    state, last_seq = await service.load(STOCK_ITEM, "A")

    assert (state.on_hand, last_seq) == (6, 2)
    assert store.reads == [("stock.A", 2)]  # only what is new since the cached sequence


async def test_a_subject_used_no_more_often_does_not_displace_a_cached_one() -> None:
    store = CountingStore()
    service = service_on(store, cache_size=1)
    await service.handle(STOCK_ITEM, "A", ReceiveStock(5), META)
    await service.handle(STOCK_ITEM, "B", ReceiveStock(5), META)  # used once, as A: refused
    store.reads.clear()

    await service.load(STOCK_ITEM, "A")
    await service.load(STOCK_ITEM, "B")

    assert store.reads == [("stock.A", 2), ("stock.B", 1)]  # A still cached, B read whole


async def test_a_subject_used_more_often_displaces_one_used_less() -> None:
    store = CountingStore()
    service = service_on(store, cache_size=1)
    await service.handle(STOCK_ITEM, "A", ReceiveStock(5), META)
    await service.handle(STOCK_ITEM, "B", ReceiveStock(5), META)
    await service.handle(STOCK_ITEM, "B", ReceiveStock(5), META)  # B's second use: in
    store.reads.clear()

    await service.load(STOCK_ITEM, "B")
    await service.load(STOCK_ITEM, "A")

    assert store.reads == [("stock.B", 4), ("stock.A", 1)]  # B cached at 3, A read whole


async def test_a_state_counts_its_reservations_against_the_bound() -> None:
    store = CountingStore()
    service = service_on(store, cache_size=4)  # a window of 2, a main part of 2
    await service.handle(STOCK_ITEM, "A", ReceiveStock(100), META)
    held = 2 * RESERVATIONS_PER_STATE - 1  # 1 + a share of them: 2, as the main part
    for n in range(held):
        await service.handle(STOCK_ITEM, "A", ReserveStock(f"o{n}", 1), META)
    store.reads.clear()
    await service.load(STOCK_ITEM, "A")
    assert store.reads == [("stock.A", held + 2)]  # cached

    await service.handle(STOCK_ITEM, "A", ReserveStock("one-more", 1), META)  # 3: too heavy
    store.reads.clear()
    await service.load(STOCK_ITEM, "A")
    assert store.reads == [("stock.A", 1)]  # read from the start


async def test_hot_states_that_outweigh_the_bound_keep_the_ones_that_fit() -> None:
    # Ten stock items used in turn, each weighing 1,000 against a bound of 10,000 (a window
    # of 1,024 for the light states in flight, 8,976 for the rest): eight fit. Least
    # recently kept out first, each pushed out the one needed next and every command read
    # its item again (all 200 here); now the eight stay, two commands in ten read.
    heavy = replace(STOCK_ITEM, weight=lambda state: 1000)
    store = CountingStore()
    service = service_on(store, cache_size=10_000)
    skus = [f"S{n}" for n in range(10)]
    for sku in skus:
        await service.handle(heavy, sku, ReceiveStock(1000), META)
    store.reads.clear()

    commands = 0
    for round_ in range(20):
        for sku in skus:
            await service.handle(heavy, sku, ReserveStock(f"{sku}-{round_}", 1), META)
            commands += 1

    assert 0.1 * commands <= len(store.reads) <= 0.3 * commands
    assert len({subject for subject, _ in store.reads}) == 2  # never the eight that fit


async def test_an_order_just_placed_as_new_is_not_kept() -> None:
    store = CountingStore()
    service = service_on(store)
    order_id = str(uuid4())
    await service.handle(ORDER, order_id, PlaceOrder("c1", "EUR", LINES), META, new=True)

    await service.load(ORDER, order_id)

    assert store.reads == [(order_subject(order_id), 1)]


async def test_a_new_id_is_decided_without_reading() -> None:
    store = CountingStore()
    order_id = str(uuid4())

    result = await service_on(store).handle(
        ORDER, order_id, PlaceOrder("c1", "EUR", LINES), META, new=True
    )

    assert store.reads == []
    assert result.position == Position("ORDERS", 1)
    assert await stored(store, order_subject(order_id)) == [PLACED]


async def test_a_new_id_never_takes_a_place_in_a_full_cache() -> None:
    store = CountingStore()
    observer = RecordingObserver()
    service = CommandService(store, max_attempts=10, cache_size=1, observer=observer)
    await service.handle(STOCK_ITEM, "A", ReceiveStock(5), META)  # the cache is full
    store.reads.clear()

    for _ in range(3):
        await service.handle(ORDER, str(uuid4()), PlaceOrder("c1", "EUR", LINES), META, new=True)
    await service.handle(STOCK_ITEM, "A", ReceiveStock(1), META)

    assert observer.evictions == []  # A stayed: new orders were never cached, even briefly
    assert store.reads == []


async def test_a_new_id_that_exists_after_all_is_refused_on_fresh_state() -> None:
    store = memory_store()
    order_id = str(uuid4())
    await given(store, order_subject(order_id), PLACED)  # the "fresh" id was taken

    with pytest.raises(RuleViolation) as refused:
        await service_on(store).handle(
            ORDER, order_id, PlaceOrder("c2", "EUR", LINES), META, new=True
        )

    assert refused.value.code == "order-exists"
    assert await stored(store, order_subject(order_id)) == [PLACED]


async def test_the_same_idempotency_key_appends_once() -> None:
    store = memory_store()
    keyed = Metadata(correlation_id="c", idempotency_key="step-1")
    first = await service_on(store).handle(STOCK_ITEM, "A", ReceiveStock(3), keyed)

    again = await service_on(store).handle(STOCK_ITEM, "A", ReceiveStock(3), keyed)

    assert again.position == first.position
    assert await stored(store, "stock.A") == [StockReceived(quantity=3)]


async def test_a_dropped_duplicate_is_not_cached_as_stored() -> None:
    # A step repeated with its key after its effect was undone: the store drops it as a
    # duplicate, so the service must not remember the reservation as made.
    store = memory_store()
    service = service_on(store)
    reserve = Metadata("c", idempotency_key="fulfil:o1:reserve:A")
    await service.handle(STOCK_ITEM, "A", ReceiveStock(5), META)
    await service.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), reserve)
    await service.handle(STOCK_ITEM, "A", ReleaseReservation("o1"), META)
    await service.handle(STOCK_ITEM, "A", ReceiveStock(1), META)

    await service.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), reserve)

    cached, last_seq = await service.load(STOCK_ITEM, "A")
    truth, _ = await service_on(store).load(STOCK_ITEM, "A")
    assert (cached.on_hand, dict(cached.reservations), last_seq) == (6, {}, 4)
    assert (truth.on_hand, dict(truth.reservations)) == (6, {})
    assert await stored(store, "stock.A") == [
        StockReceived(quantity=5),
        StockReserved(order_id="o1", quantity=2),
        StockReservationReleased(order_id="o1", quantity=2),
        StockReceived(quantity=1),
    ]


async def test_a_duplicate_reads_only_what_was_stored_after_the_state_it_was_decided_on() -> None:
    # A step repeated by a twin (or a redelivery) on a long history: the store answers a
    # duplicate, and the service brings its state up to date from the sequence that state
    # is at, not by reading the whole subject again (which, on a hot SKU, fed a spiral of
    # slow steps).
    store = CountingStore()
    first, twin = service_on(store), service_on(store)
    reserve = Metadata("c", idempotency_key="fulfil:o1:reserve:A")
    await first.handle(STOCK_ITEM, "A", ReceiveStock(100), META)
    for number in range(20):
        await first.handle(STOCK_ITEM, "A", ReserveStock(f"p{number}", 1), META)
    await twin.load(STOCK_ITEM, "A")  # the twin's state is at 21
    await first.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), reserve)  # stored at 22
    store.reads.clear()

    repeated = await twin.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), reserve)

    assert store.reads == [("stock.A", 22)]  # what came after 21: the step itself
    assert repeated.position == Position("STOCK", 22)
    assert (repeated.state.on_hand, repeated.state.reserved) == (100, 22)


async def test_a_duplicate_on_a_stale_state_folds_what_came_after_it() -> None:
    # The twin's state is at 1; the step it repeats was stored at 3, after someone else's
    # adjustment at 2: both are read (from 2 on) and folded, the answer is current.
    store = CountingStore()
    first, twin = service_on(store), service_on(store)
    step = Metadata("c", idempotency_key="fulfil:o:reserve:S")
    await first.handle(STOCK_ITEM, "S", ReceiveStock(5), META)
    await twin.load(STOCK_ITEM, "S")
    await first.handle(STOCK_ITEM, "S", AdjustStock(-3, "damaged"), META)
    await first.handle(STOCK_ITEM, "S", ReserveStock("o", 2), step)
    store.reads.clear()

    repeated = await twin.handle(STOCK_ITEM, "S", ReserveStock("o", 2), step)

    assert store.reads[-1] == ("stock.S", 2)
    assert ("stock.S", 1) not in store.reads
    assert repeated.position == Position("STOCK", 3)
    assert (repeated.state.on_hand, repeated.state.reserved) == (2, 2)
    with pytest.raises(OutOfStock):  # the twin's cache holds the current state now
        await twin.handle(STOCK_ITEM, "S", ReserveStock("p", 1), META)
