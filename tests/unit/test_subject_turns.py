"""Commands of one process on one subject take turns: none conflicts with another of the
same process, each is decided on what the one before it left, a waiter given up on
(cancelled) neither runs nor blocks the ones behind it."""

import asyncio
from collections.abc import Sequence

import pytest

from events.stock import StockReceived
from support.clock import FakeClock
from support.command_doubles import RecordingObserver, given
from support.defaults import DUPLICATE_WINDOW
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain.stock import OutOfStock, ReserveStock
from write_side.in_memory import InMemoryEventStore
from write_side.ports import AppendResult, PendingEvent
from write_side.subject_turns import SubjectTurns

META = Metadata(correlation_id="corr-1")


class YieldingStore(InMemoryEventStore):
    """The in-memory store with an append that waits a loop turn first, as a network
    round trip does: commands in flight together decide on the same cached state."""

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        await asyncio.sleep(0)
        return await super().append(subject, events, expected_seq)


async def test_commands_of_one_process_on_one_subject_never_conflict() -> None:
    store = YieldingStore(duplicate_window=DUPLICATE_WINDOW, clock=FakeClock())
    await given(store, "stock.HOT", StockReceived(quantity=40))
    observer = RecordingObserver()
    service = CommandService(store, max_attempts=2, observer=observer)

    await asyncio.gather(
        *(service.handle(STOCK_ITEM, "HOT", ReserveStock(f"o{n}", 2), META) for n in range(20))
    )

    state, last_seq = await service.load(STOCK_ITEM, "HOT")
    assert (state.reserved, len(state.reservations), last_seq) == (40, 20, 21)
    assert observer.conflicts == []
    with pytest.raises(OutOfStock):  # decided on the state the twentieth left
        await service.handle(STOCK_ITEM, "HOT", ReserveStock("late", 1), META)


async def test_turns_go_in_order_and_other_subjects_do_not_wait() -> None:
    turns = SubjectTurns()
    ran: list[str] = []
    await turns.take("a")

    async def run(subject: str, name: str) -> None:
        await turns.take(subject)
        ran.append(name)
        turns.give_back(subject)

    tasks = [asyncio.create_task(run("a", f"a{n}")) for n in range(3)]
    await run("b", "b")  # another subject: not behind "a"
    await asyncio.sleep(0)
    assert ran == ["b"]
    turns.give_back("a")
    await asyncio.gather(*tasks)
    assert ran == ["b", "a0", "a1", "a2"]
    assert len(turns) == 0


def waiters(turns: SubjectTurns, *names: str) -> tuple[list[str], list[asyncio.Task[None]]]:
    """Tasks that each wait for a turn on "a", say their name when they have it and give
    it back; and the names, in the order they ran."""
    ran: list[str] = []

    async def run(name: str) -> None:
        await turns.take("a")
        ran.append(name)
        turns.give_back("a")

    return ran, [asyncio.create_task(run(name)) for name in names]


async def test_a_cancelled_waiter_does_not_hold_up_the_ones_behind_it() -> None:
    turns = SubjectTurns()
    await turns.take("a")
    ran, (given_up, behind) = waiters(turns, "given up", "behind")
    await asyncio.sleep(0)
    given_up.cancel()
    await asyncio.sleep(0)
    turns.give_back("a")
    await behind
    assert ran == ["behind"]
    assert given_up.cancelled()
    assert len(turns) == 0


async def test_a_waiter_cancelled_after_it_was_handed_the_turn_passes_it_on() -> None:
    turns = SubjectTurns()
    await turns.take("a")
    ran, (handed, behind) = waiters(turns, "handed", "behind")
    await asyncio.sleep(0)
    turns.give_back("a")  # the turn is "handed"'s, which has not run yet
    handed.cancel()
    await behind
    assert ran == ["behind"]
    assert len(turns) == 0


async def test_a_free_turn_is_taken_at_once_and_a_held_one_is_not() -> None:
    turns = SubjectTurns()
    assert turns.take_free("a")
    assert not turns.take_free("a")  # held: nothing taken, nothing queued
    ran, (waiter,) = waiters(turns, "waiter")
    await asyncio.sleep(0)
    assert ran == []
    turns.give_back("a")
    await waiter
    assert ran == ["waiter"] and len(turns) == 0
    assert turns.take_free("a")
    turns.give_back("a")
    assert len(turns) == 0
