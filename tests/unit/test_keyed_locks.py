"""Keyed locks as `async with` blocks: one holder per key, first come first served, nothing
left behind, released when the block raises (cancellation: tests/unit/test_subject_turns.py)."""

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
