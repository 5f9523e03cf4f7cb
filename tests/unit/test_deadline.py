"""A command's deadline behaves as `asyncio.timeout`: past it, TimeoutError; within it,
nothing; a cancellation from outside is still a cancellation. Many deadlines share one
queue and one timer: each ends its own work only, and ended ones leave the queue."""

import asyncio

import pytest

from write_side.http.deadline import Deadlines


async def test_work_past_the_deadline_is_a_timeout() -> None:
    with pytest.raises(TimeoutError), Deadlines(0.01)():
        await asyncio.sleep(5)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_work_within_the_deadline_is_untouched() -> None:
    deadlines = Deadlines(0.02)
    with deadlines():
        await asyncio.sleep(0)
        answer = 42
    assert answer == 42
    await asyncio.sleep(0.05)  # the deadline passed after the work ended: nothing happens
    assert len(deadlines) == 0


async def test_errors_of_the_work_pass_through() -> None:
    with pytest.raises(KeyError), Deadlines(5)():
        raise KeyError("x")


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    deadlines = Deadlines(5)

    async def work() -> None:
        with deadlines():
            await asyncio.sleep(5)

    task = asyncio.create_task(work())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_each_deadline_ends_only_its_own_work() -> None:
    deadlines = Deadlines(0.05)
    ended: list[str] = []

    async def work(name: str, seconds: float) -> None:
        try:
            with deadlines():
                await asyncio.sleep(seconds)
            ended.append(f"{name} done")
        except TimeoutError:
            ended.append(f"{name} timed out")

    quick = asyncio.create_task(work("quick", 0.001))
    slow = asyncio.create_task(work("slow", 5))
    await asyncio.sleep(0.02)
    late = asyncio.create_task(work("late", 0.04))  # due 0.02 s after slow's deadline
    later_slow = asyncio.create_task(work("later slow", 5))
    await asyncio.gather(quick, slow, late, later_slow)
    assert ended == ["quick done", "slow timed out", "late done", "later slow timed out"]
    assert len(deadlines) == 0


async def test_ended_deadlines_leave_the_queue_and_release_their_task() -> None:
    deadlines = Deadlines(0.01)
    for _ in range(100):
        with deadlines() as deadline:
            await asyncio.sleep(0)
        assert not deadline.running
    assert len(deadlines) == 100  # until the timer comes by
    await asyncio.sleep(0.03)
    assert len(deadlines) == 0


async def test_a_deadline_needs_a_task() -> None:
    deadlines = Deadlines(1)
    refused: list[BaseException] = []

    def in_a_callback() -> None:  # on the loop, outside any task
        try:
            deadlines()
        except RuntimeError as error:
            refused.append(error)

    asyncio.get_running_loop().call_soon(in_a_callback)
    await asyncio.sleep(0.01)
    assert len(refused) == 1
