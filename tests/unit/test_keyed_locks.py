"""Keyed locks: one holder per key, first come first served, nothing left behind, and a
waiter cancelled at any moment neither keeps nor loses the lock for the others."""

import asyncio

from write_side.fulfilment.keyed_lock import KeyedLocks


async def test_one_holder_per_key_in_arrival_order_and_other_keys_free() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def hold(key: str, name: str, pause: float) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(pause)
            order.append(f"{name}-")

    await asyncio.gather(
        hold("a", "a1", 0.02), hold("a", "a2", 0.0), hold("a", "a3", 0.0), hold("b", "b1", 0.0)
    )
    assert order == ["a1+", "b1+", "b1-", "a1-", "a2+", "a2-", "a3+", "a3-"]
    assert len(locks) == 0


async def test_a_failing_holder_releases() -> None:
    locks = KeyedLocks()

    async def fail() -> None:
        async with locks.hold("a"):
            raise ValueError("boom")

    results = await asyncio.gather(fail(), fail(), return_exceptions=True)
    assert all(isinstance(result, ValueError) for result in results)
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()
    entered: list[str] = []

    async def hold(name: str) -> None:
        async with locks.hold("a"):
            entered.append(name)
            await release.wait()

    first = asyncio.create_task(hold("first"))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(hold("cancelled"))
    last = asyncio.create_task(hold("last"))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, last)
    assert waiting.cancelled() and entered == ["first", "last"]
    assert len(locks) == 0


async def test_a_waiter_cancelled_as_it_is_handed_the_lock_passes_it_on() -> None:
    locks = KeyedLocks()
    entered: list[str] = []

    async def hold(name: str) -> None:
        async with locks.hold("a"):
            entered.append(name)

    async with locks.hold("a"):
        handed = asyncio.create_task(hold("handed"))
        last = asyncio.create_task(hold("last"))
        await asyncio.sleep(0)  # both wait
    handed.cancel()  # released: `handed` was given the lock but has not run yet
    await asyncio.gather(handed, last, return_exceptions=True)
    assert handed.cancelled() and entered == ["last"]
    assert len(locks) == 0
