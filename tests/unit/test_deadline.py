"""A command's deadline behaves as `asyncio.timeout`: past it, TimeoutError; within it,
nothing; a cancellation from outside is still a cancellation."""

import asyncio

import pytest

from write_side.http.deadline import Deadline


async def test_work_past_the_deadline_is_a_timeout() -> None:
    with pytest.raises(TimeoutError), Deadline(0.01):
        await asyncio.sleep(5)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_work_within_the_deadline_is_untouched() -> None:
    with Deadline(5):
        await asyncio.sleep(0)
        answer = 42
    assert answer == 42
    await asyncio.sleep(0.01)  # the timer is gone: nothing cancels this task later


async def test_errors_of_the_work_pass_through() -> None:
    with pytest.raises(KeyError), Deadline(5):
        raise KeyError("x")


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def work() -> None:
        with Deadline(5):
            await asyncio.sleep(5)

    task = asyncio.create_task(work())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
