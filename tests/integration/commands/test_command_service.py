"""Load -> decide -> append with retries, against a real JetStream."""

import asyncio

import pytest

from support.defaults import COMMAND_MAX_ATTEMPTS
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain import stock
from write_side.errors import RuleViolation
from write_side.event_store import JetStreamEventStore
from write_side.ports import LoadedEvents

pytestmark = pytest.mark.integration
META = Metadata(correlation_id="test")


def new_service(store: JetStreamEventStore) -> CommandService:
    return CommandService(store, max_attempts=COMMAND_MAX_ATTEMPTS)


async def test_fifty_concurrent_commands_on_one_aggregate_all_succeed(
    store: JetStreamEventStore,
) -> None:
    services = [new_service(store) for _ in range(5)]  # five API processes, one stream
    await services[0].handle(STOCK_ITEM, "HOT", stock.ReceiveStock(100), META)
    results = await asyncio.gather(
        *(
            services[i % 5].handle(STOCK_ITEM, "HOT", stock.ReserveStock(f"o{i}", 2), META)
            for i in range(50)
        )
    )
    assert all(len(result.events) == 1 for result in results)
    state, last_seq = await new_service(store).load(STOCK_ITEM, "HOT")
    assert (state.on_hand, state.reserved, last_seq) == (100, 100, 51)
    with pytest.raises(stock.OutOfStock):
        await services[0].handle(STOCK_ITEM, "HOT", stock.ReserveStock("late", 1), META)


async def test_a_cached_state_is_brought_up_to_date(store: JetStreamEventStore) -> None:
    one, two = new_service(store), new_service(store)
    await one.handle(STOCK_ITEM, "A", stock.ReceiveStock(3), META)
    await two.handle(STOCK_ITEM, "A", stock.ReserveStock("o1", 3), META)
    # `one` still caches on_hand=3, reserved=0; its decision must see the reservation.
    with pytest.raises(RuleViolation):
        await one.handle(STOCK_ITEM, "A", stock.AdjustStock(-1, "broken"), META)


async def test_a_stale_cache_decides_on_what_its_conflict_carried(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes on one SKU: the store reads what the other stored while it resolves
    the conflict, and the command is decided again on that, with no read of its own."""
    one, two = new_service(store), new_service(store)
    await one.handle(STOCK_ITEM, "C", stock.ReceiveStock(5), META)
    await two.handle(STOCK_ITEM, "C", stock.ReserveStock("o1", 2), META)
    loads = 0
    load = store.load

    async def counted(subject: str, *, from_seq: int = 1) -> LoadedEvents:
        nonlocal loads
        loads += 1
        return await load(subject, from_seq=from_seq)

    monkeypatch.setattr(store, "load", counted)
    done = await one.handle(STOCK_ITEM, "C", stock.ReserveStock("o2", 3), META)
    assert loads == 0
    assert (done.state.on_hand, done.state.reserved, done.position.seq) == (5, 5, 3)
    with pytest.raises(stock.OutOfStock):  # and it holds all three events now
        await one.handle(STOCK_ITEM, "C", stock.ReserveStock("o3", 1), META)


async def test_the_same_idempotency_key_appends_once(store: JetStreamEventStore) -> None:
    service = new_service(store)
    keyed = Metadata(correlation_id="c", idempotency_key="step-1")
    first = await service.handle(STOCK_ITEM, "A", stock.ReceiveStock(3), keyed)
    again = await new_service(store).handle(STOCK_ITEM, "A", stock.ReceiveStock(3), keyed)
    assert again.position == first.position
    state, _ = await new_service(store).load(STOCK_ITEM, "A")
    assert state.on_hand == 3


async def test_a_key_reused_for_another_sku_stores_its_events(store: JetStreamEventStore) -> None:
    # JetStream's duplicate window spans the whole stream: ids derived from the key alone
    # made the second command a "duplicate" of the first, answered with nothing stored.
    keyed = Metadata(correlation_id="c", idempotency_key="client-key")
    await new_service(store).handle(STOCK_ITEM, "A", stock.ReceiveStock(3), keyed)
    await new_service(store).handle(STOCK_ITEM, "B", stock.ReceiveStock(4), keyed)
    state, last_seq = await new_service(store).load(STOCK_ITEM, "B")
    assert (state.on_hand, last_seq) == (4, 2)


async def test_a_duplicate_reads_only_what_came_after_its_state(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step repeated by a twin whose state is older than the step: JetStream answers a
    duplicate, and the twin reads only what was stored after its own state, not the whole
    subject (on a hot SKU that reload made every repeated step slower than the last)."""
    first, twin = new_service(store), new_service(store)
    step = Metadata(correlation_id="order-o", idempotency_key="fulfil:o:reserve:D")
    await first.handle(STOCK_ITEM, "D", stock.ReceiveStock(50), META)
    for number in range(10):
        await first.handle(STOCK_ITEM, "D", stock.ReserveStock(f"p{number}", 1), META)
    await twin.load(STOCK_ITEM, "D")  # the twin's state is at 11
    await first.handle(STOCK_ITEM, "D", stock.AdjustStock(-5, "damaged"), META)  # 12
    await first.handle(STOCK_ITEM, "D", stock.ReserveStock("o", 2), step)  # 13
    reads: list[int] = []
    load = store.load

    async def counted(subject: str, *, from_seq: int = 1) -> LoadedEvents:
        reads.append(from_seq)
        return await load(subject, from_seq=from_seq)

    monkeypatch.setattr(store, "load", counted)
    repeated = await twin.handle(STOCK_ITEM, "D", stock.ReserveStock("o", 2), step)
    assert reads == [12]
    assert repeated.position.seq == 13
    assert (repeated.state.on_hand, repeated.state.reserved) == (45, 12)
    state, last_seq = await new_service(store).load(STOCK_ITEM, "D")
    assert (state.on_hand, state.reserved, last_seq) == (45, 12, 13)
