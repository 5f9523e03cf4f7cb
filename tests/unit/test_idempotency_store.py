"""Idempotency-Key claims on the in-memory key-value bucket: the first request runs, a
repeat gets its answer, another body is refused, a crashed claim is taken over."""

import pytest

from support.clock import FakeClock
from write_side.errors import IdempotencyKeyReused, IdempotentRequestInProgress
from write_side.idempotency import IdempotencyStore, StoredAnswer
from write_side.in_memory import InMemoryKeyValue

ANSWER = StoredAnswer(status=202, body=b'{"position": "ORDERS:1"}', headers={"location": "/o"})
TTL = 48 * 3600.0


def claims(clock: FakeClock, *, wait: float = 0.0) -> IdempotencyStore:
    bucket = InMemoryKeyValue(ttl=TTL, clock=clock)
    return IdempotencyStore(bucket, stale_after=30.0, wait=wait, clock=clock)


async def test_the_first_request_runs_and_a_repeat_gets_its_answer() -> None:
    store, key = claims(FakeClock()), IdempotencyStore.kv_key("POST /orders", "k1")

    assert await store.begin(key, "body-1") is None
    await store.complete(key, "body-1", ANSWER)

    assert await store.begin(key, "body-1") == ANSWER


async def test_the_same_key_with_another_body_is_refused() -> None:
    store, key = claims(FakeClock()), IdempotencyStore.kv_key("POST /orders", "k1")
    await store.begin(key, "body-1")

    with pytest.raises(IdempotencyKeyReused):
        await store.begin(key, "body-2")


async def test_a_repeat_while_the_first_runs_is_told_to_come_back() -> None:
    store, key = claims(FakeClock(), wait=0.0), IdempotencyStore.kv_key("POST /orders", "k1")
    await store.begin(key, "body-1")

    with pytest.raises(IdempotentRequestInProgress):
        await store.begin(key, "body-1")


async def test_a_claim_left_by_a_crashed_process_is_taken_over() -> None:
    clock = FakeClock()
    store, key = claims(clock), IdempotencyStore.kv_key("POST /orders", "k1")
    await store.begin(key, "body-1")  # ... and the process died

    clock.advance(31.0)

    assert await store.begin(key, "body-1") is None


async def test_an_abandoned_key_can_be_claimed_again() -> None:
    store, key = claims(FakeClock()), IdempotencyStore.kv_key("POST /orders", "k1")
    await store.begin(key, "body-1")

    await store.abandon(key)  # e.g. the command answered 503

    assert await store.begin(key, "body-2") is None


async def test_answers_are_forgotten_after_the_bucket_ttl() -> None:
    clock = FakeClock()
    store, key = claims(clock), IdempotencyStore.kv_key("POST /orders", "k1")
    await store.begin(key, "body-1")
    await store.complete(key, "body-1", ANSWER)

    clock.advance(TTL)

    assert await store.begin(key, "body-2") is None


def test_keys_are_scoped_by_method_and_path() -> None:
    cancel = IdempotencyStore.kv_key("POST /orders/1/cancel", "k")
    ship = IdempotencyStore.kv_key("POST /orders/1/ship", "k")
    assert cancel != ship
    assert cancel == IdempotencyStore.kv_key("POST /orders/1/cancel", "k")
