"""How often a projector reads whether its view is paused (`projections.pause.PauseWatch`):
at most once an `every` seconds, and not at all while its batches' transactions keep
finding the view running."""

from typing import Any

from projections.pause import PauseWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Pauses:
    """A connection that answers the pause read and counts it."""

    def __init__(self, paused: bool) -> None:
        self.paused, self.reads = paused, 0

    async def fetchval(self, sql: str, *args: Any) -> bool:
        self.reads += 1
        return self.paused


async def test_the_pause_is_read_again_once_its_last_read_is_old() -> None:
    clock, conn = Clock(), Pauses(False)
    watch = PauseWatch("orders", every=1.0, clock=clock)
    assert not await watch.pausing(conn)
    clock.now += 0.5
    assert not await watch.pausing(conn)
    assert conn.reads == 1
    conn.paused, clock.now = True, clock.now + 0.5
    assert await watch.pausing(conn)
    assert conn.reads == 2


async def test_a_batch_that_found_the_view_running_stands_for_a_read() -> None:
    clock, conn = Clock(), Pauses(False)
    watch = PauseWatch("orders", every=1.0, clock=clock)
    assert not await watch.pausing(conn)
    for _ in range(10):  # batches under traffic, each finding the view running
        clock.now += 0.3
        watch.seen_running()
        assert not await watch.pausing(conn)
    assert conn.reads == 1
    conn.paused = True  # paused: the batches' gates fail, none says running any more
    clock.now += 1.0
    assert await watch.pausing(conn)
    assert conn.reads == 2
