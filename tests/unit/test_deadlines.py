"""Time limits kept by one timer: a wait not done by its limit fails with TimeoutError, an
ended one is left alone, a shorter limit added later still comes first, and a limit that
passes while the loop is stalled lets what came in meanwhile be read first."""

import asyncio
import time

import pytest

from write_side.deadlines import GRACE, Deadlines


async def test_a_wait_not_done_by_its_limit_times_out() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    slow, quick = loop.create_future(), loop.create_future()
    deadlines.add(slow, 0.05)
    deadlines.add(quick, 0.05)
    quick.set_result("answered")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await slow
    assert 0.04 < time.monotonic() - started < 0.04 + GRACE + 0.1
    assert quick.result() == "answered"
    assert len(deadlines) == 0  # the ended wait's limit went with the due ones


async def test_a_shorter_limit_added_later_comes_first() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    long, short = loop.create_future(), loop.create_future()
    deadlines.add(long, 5.0)
    deadlines.add(short, 0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(short, 1.0)
    assert not long.done()
    long.cancel()


async def test_what_came_in_during_a_stall_is_read_before_limits_end() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    waits = [loop.create_future() for _ in range(3)]
    for wait in waits:
        deadlines.add(wait, 0.05)
    # The answers arrive while the loop is held up past the limits; they are handled by
    # callbacks that run only after the loop gets going again (as a socket read would).
    for wait in waits:
        loop.call_soon(wait.set_result, "answered")
    time.sleep(0.2)  # noqa: ASYNC251 - the loop stalls, on purpose
    assert await asyncio.gather(*waits) == ["answered"] * 3


async def test_a_stall_delays_a_timeout_by_the_grace_only() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    mute = loop.create_future()
    deadlines.add(mute, 0.05)
    time.sleep(0.2)  # noqa: ASYNC251 - the loop stalls, on purpose
    resumed = time.monotonic()
    with pytest.raises(TimeoutError):
        await mute
    assert time.monotonic() - resumed < GRACE + 0.1


async def test_ended_waits_are_dropped_and_the_timer_waits_for_a_running_one() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    ended = [loop.create_future() for _ in range(50)]
    for wait in ended:
        deadlines.add(wait, 0.05)
        wait.set_result("answered")
    running = loop.create_future()
    deadlines.add(running, 0.3)
    later = loop.create_future()
    deadlines.add(later, 0.05)  # a shorter limit, added after a longer one
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(later), 1.0)
    # the first firing dropped every ended wait and failed the due one; the running one
    # (not due yet) is kept, alone
    assert not running.done() and len(deadlines) == 1
    with pytest.raises(TimeoutError):
        await running
    assert len(deadlines) == 0
