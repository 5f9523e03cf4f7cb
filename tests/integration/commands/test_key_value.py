"""A JetStream key-value bucket passes the key-value contract against a real nats-server,
read through nats-py's key-value get and, when its stream allows them, by direct gets on
the shared wire. A bucket made before without direct gets keeps its values when
`tally migrate` allows them; a direct read that fails is StoreUnavailable."""

import asyncio
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from contract.key_value import Elapse, KeyValueContract, MakeBucket
from support.defaults import TEST_NATS_TIMEOUT
from support.servers import NatsServer
from support.signals import stalled
from tally.roles.migrate import migrate_streams
from tally.roles.migrate_check import streams_behind
from tally.settings import Settings
from write_side.errors import StoreUnavailable
from write_side.key_value import JetStreamKeyValue, open_key_value
from write_side.ports import KeyValueBucket
from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET

pytestmark = pytest.mark.integration


class TestJetStreamKeyValue(KeyValueContract):
    @pytest.fixture
    def make_bucket(self, nc: NATS) -> MakeBucket:
        async def make(ttl: float | None) -> KeyValueBucket:
            name = f"contract_{uuid4().hex[:12]}"
            bucket = await open_key_value(
                nc.jetstream(), name, ttl_seconds=ttl, replicas=1, description="contract"
            )
            assert not bucket.reads_directly
            return bucket

        return make

    @pytest.fixture
    def elapse(self) -> Elapse:
        return asyncio.sleep


class TestDirectJetStreamKeyValue(KeyValueContract):
    @pytest.fixture
    def make_bucket(self, nc: NATS) -> MakeBucket:
        async def make(ttl: float | None) -> KeyValueBucket:
            name = f"direct_{uuid4().hex[:12]}"
            bucket = await open_key_value(
                nc.jetstream(),
                name,
                ttl_seconds=ttl,
                replicas=1,
                description="contract",
                direct=True,
            )
            assert bucket.reads_directly
            return bucket

        return make

    @pytest.fixture
    def elapse(self) -> Elapse:
        return asyncio.sleep


async def test_a_bucket_made_without_direct_gets_keeps_its_values(nc: NATS) -> None:
    name = f"before_{uuid4().hex[:12]}"
    js = nc.jetstream()
    before = await open_key_value(js, name, ttl_seconds=None, replicas=1, description="old")
    kept = await before.put("kept", b"value")
    await before.put("gone", b"x")
    await before.delete("gone")
    after = await open_key_value(
        js, name, ttl_seconds=None, replicas=1, description="old", direct=True
    )
    assert after.reads_directly and not before.reads_directly
    for bucket in (before, after):  # one bound before the update goes on working
        entry = await bucket.get("kept")
        assert entry is not None and (entry.value, entry.revision) == (b"value", kept)
        assert await bucket.get("gone") is None
        assert await bucket.get("never") is None
    info = await js.stream_info(f"KV_{name}")
    assert info.config.allow_direct and info.state.messages == 2  # nothing lost or added
    rebound = JetStreamKeyValue(await js.key_value(name), name)  # as a role binds it
    assert rebound.reads_directly


async def test_a_direct_read_without_the_stream_is_unavailable(nc: NATS) -> None:
    name = f"lost_{uuid4().hex[:12]}"
    js = nc.jetstream()
    bucket = await open_key_value(
        js, name, ttl_seconds=None, replicas=1, description="lost", direct=True
    )
    await bucket.put("k", b"v")
    await js.delete_key_value(name)  # no stream: a 503 (no responders) answers
    with pytest.raises(StoreUnavailable, match="get"):
        await bucket.get("k")


async def test_an_unanswered_direct_read_is_unavailable(nats_server: NatsServer, nc: NATS) -> None:
    name = f"stall_{uuid4().hex[:12]}"
    await open_key_value(
        nc.jetstream(), name, ttl_seconds=None, replicas=1, description="stall", direct=True
    )
    bucket = JetStreamKeyValue(await nc.jetstream(timeout=0.3).key_value(name), name)
    await bucket.put("k", b"v")
    with stalled(nats_server), pytest.raises(StoreUnavailable, match="get"):
        await bucket.get("k")
    await asyncio.sleep(0.1)  # the late answer reaches nobody
    fresh = JetStreamKeyValue(await nc.jetstream(timeout=TEST_NATS_TIMEOUT).key_value(name), name)
    entry = await fresh.get("k")
    assert entry is not None and entry.value == b"v"


async def test_migrate_allows_direct_gets_of_snapshots_and_check_names_a_bucket_without(
    nc: NATS,
) -> None:
    js = nc.jetstream()
    settings = Settings()
    stream = f"KV_{SNAPSHOT_BUCKET}"
    await open_key_value(js, SNAPSHOT_BUCKET, ttl_seconds=None, replicas=1, description="old")
    info = await js.stream_info(stream)
    info.config.allow_direct = False  # as a store made before this release has it
    await js.update_stream(info.config)
    kept = await JetStreamKeyValue(await js.key_value(SNAPSHOT_BUCKET), SNAPSHOT_BUCKET).put(
        "stock.A", b"{}"
    )
    assert f"stream {stream} does not allow direct gets" in await streams_behind(js, settings)

    await migrate_streams(nc, settings)

    assert not any(stream in line for line in await streams_behind(js, settings))
    bound = JetStreamKeyValue(await js.key_value(SNAPSHOT_BUCKET), SNAPSHOT_BUCKET)
    entry = await bound.get("stock.A")
    assert bound.reads_directly and entry is not None and entry.revision == kept
