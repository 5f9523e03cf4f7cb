"""`settled`: several steps at once, each one's result or exception in the order given,
as `asyncio.gather(..., return_exceptions=True)` gives them."""

import asyncio

import pytest

from write_side.fulfilment.together import settled


async def test_every_step_runs_at_once_and_answers_in_order() -> None:
    started: list[int] = []
    release = asyncio.Event()

    async def step(n: int) -> int:
        started.append(n)
        await release.wait()  # none finishes before all have started
        return n * 10

    running = asyncio.ensure_future(settled([step(1), step(2), step(3)]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sorted(started) == [1, 2, 3]
    release.set()
    assert await running == [10, 20, 30]


async def test_a_failure_is_returned_in_its_place_once_all_are_done() -> None:
    finished: list[str] = []

    async def fails() -> str:
        raise ValueError("no")

    async def slow() -> str:
        await asyncio.sleep(0.01)
        finished.append("slow")
        return "ok"

    first = await settled([fails(), slow()])
    assert finished == ["slow"]
    assert isinstance(first[0], ValueError) and first[1] == "ok"
    finished.clear()
    last = await settled([slow(), fails()])
    assert finished == ["slow"]
    assert last[0] == "ok" and isinstance(last[1], ValueError)


async def test_nothing_to_do() -> None:
    assert await settled([]) == []


async def test_cancelling_the_caller_cancels_the_steps() -> None:
    cancelled: list[int] = []

    async def step(n: int) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    running = asyncio.ensure_future(settled([step(1), step(2), step(3)]))
    await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.sleep(0)
    assert sorted(cancelled) == [1, 2, 3]
