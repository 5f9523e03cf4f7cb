"""The key-value contract (`write_side.ports.KeyValueBucket`), run against every adapter:
the in-memory one in the unit tier, a JetStream KV bucket in the integration tier.

A subclass provides `make_bucket(ttl)`, an empty bucket whose values live `ttl` seconds
(None: for ever), and `elapse(seconds)`, which lets that much time pass for the bucket.
"""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from write_side.errors import WrongRevision
from write_side.ports import KeyValueBucket

MakeBucket = Callable[[float | None], Awaitable[KeyValueBucket]]
Elapse = Callable[[float], Awaitable[None]]


class KeyValueContract:
    @pytest.fixture
    async def bucket(self, make_bucket: MakeBucket) -> KeyValueBucket:
        return await make_bucket(None)

    async def test_a_created_key_reads_back(self, bucket: KeyValueBucket) -> None:
        assert await bucket.get("k") is None
        revision = await bucket.create("k", b"first")
        entry = await bucket.get("k")
        assert entry is not None
        assert (entry.value, entry.revision) == (b"first", revision)

    async def test_only_one_create_wins(self, bucket: KeyValueBucket) -> None:
        await bucket.create("k", b"first")
        with pytest.raises(WrongRevision):
            await bucket.create("k", b"second")
        outcomes = await asyncio.gather(
            *(bucket.create("race", str(n).encode()) for n in range(5)), return_exceptions=True
        )
        assert sum(isinstance(outcome, int) for outcome in outcomes) == 1
        assert all(isinstance(o, int | WrongRevision) for o in outcomes)
        entry = await bucket.get("k")
        assert entry is not None and entry.value == b"first"

    async def test_update_needs_the_current_revision(self, bucket: KeyValueBucket) -> None:
        first = await bucket.create("k", b"1")
        second = await bucket.update("k", b"2", revision=first)
        assert second > first
        with pytest.raises(WrongRevision):
            await bucket.update("k", b"3", revision=first)
        with pytest.raises(WrongRevision):
            await bucket.update("missing", b"3", revision=second)
        with pytest.raises(WrongRevision):
            await bucket.update("missing", b"3", revision=0)
        entry = await bucket.get("k")
        assert entry is not None and (entry.value, entry.revision) == (b"2", second)

    async def test_put_writes_whatever_the_key_holds(self, bucket: KeyValueBucket) -> None:
        first = await bucket.put("k", b"1")
        second = await bucket.put("k", b"2")
        assert second > first
        entry = await bucket.get("k")
        assert entry is not None and (entry.value, entry.revision) == (b"2", second)

    async def test_revisions_grow_across_the_bucket(self, bucket: KeyValueBucket) -> None:
        a = await bucket.create("a", b"")
        b = await bucket.put("b", b"")
        await bucket.delete("a")
        c = await bucket.create("c", b"")
        assert a < b < c - 1  # the delete took a revision too

    async def test_a_deleted_key_is_gone_and_can_be_created(self, bucket: KeyValueBucket) -> None:
        revision = await bucket.create("k", b"1")
        await bucket.delete("k")
        assert await bucket.get("k") is None
        with pytest.raises(WrongRevision):
            await bucket.update("k", b"2", revision=revision)
        await bucket.create("k", b"3")
        entry = await bucket.get("k")
        assert entry is not None and entry.value == b"3"
        await bucket.delete("never-set")

    async def test_values_expire_after_the_ttl(
        self, make_bucket: MakeBucket, elapse: Elapse
    ) -> None:
        bucket = await make_bucket(1.0)
        revision = await bucket.create("k", b"claim")
        assert await bucket.get("k") is not None
        await elapse(2.0)
        assert await bucket.get("k") is None
        with pytest.raises(WrongRevision):
            await bucket.update("k", b"late", revision=revision)
        await bucket.create("k", b"again")

    async def test_keys_follow_the_jetstream_rule(self, bucket: KeyValueBucket) -> None:
        await bucket.put("a-Z_0/9=.x", b"")
        for key in ("", "with space", ".leading", "trailing.", "star*", "gt>"):
            with pytest.raises(ValueError):
                await bucket.put(key, b"")
            with pytest.raises(ValueError):
                await bucket.get(key)
