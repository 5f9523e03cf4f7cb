"""A role binds the key-value buckets `tally migrate` made as it starts (found by the chaos
run: `tally fulfil`, restarted during a NATS leader election, died with `nats: timeout`
binding its status bucket). Until JetStream answers, the composition root keeps trying;
once it does, the bucket is bound and the role goes on."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from events.subjects import ORDERS, STOCK
from support.plain_nats import without_jetstream
from tally.bootstrap import Parts, bootstrap
from tally.embedded import EmbeddedNats, free_port
from tally.settings import Settings
from write_side.idempotency import BUCKET, open_bucket
from write_side.streams import StreamSettings, ensure_streams

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def jetstream_later(
    tmp_path: Path, name: str
) -> AsyncIterator[tuple[Parts, Callable[[Callable[[NATS], Awaitable[object]]], Awaitable[None]]]]:
    """A role's parts on a NATS server without JetStream, and how to replace it on the same
    port by one with JetStream, `prepare` (what `tally migrate` would make) run on it."""
    port = free_port()
    plain = await asyncio.to_thread(without_jetstream, port)
    server = EmbeddedNats(tmp_path / "nats", port=port)

    async def arrive(prepare: Callable[[NATS], Awaitable[object]]) -> None:
        plain.terminate()
        plain.wait(10)
        await asyncio.to_thread(server.start)  # the same port, with JetStream
        nc = await nats.connect(server.url)
        try:
            await prepare(nc)
        finally:
            await nc.close()

    try:
        settings = Settings(nats_url=f"nats://127.0.0.1:{port}", nats_connect_timeout=60)
        async with bootstrap(settings, name=name) as parts:
            yield parts, arrive
    finally:
        plain.kill()
        plain.wait()
        await asyncio.to_thread(server.stop)


async def test_a_bucket_is_bound_once_jetstream_answers(tmp_path: Path) -> None:
    async with jetstream_later(tmp_path, "binding") as (parts, arrive):
        binding = asyncio.create_task(parts.key_value(BUCKET))
        await asyncio.sleep(2)
        assert not binding.done(), binding  # before the fix: NoRespondersError at once
        await arrive(lambda nc: open_bucket(nc.jetstream(), ttl_seconds=3600, replicas=1))
        kv = await asyncio.wait_for(binding, 60)
        await kv.put("k", b"bound")
        entry = await kv.get("k")
        assert entry is not None and entry.value == b"bound"


async def test_the_stream_layout_is_read_once_jetstream_answers(tmp_path: Path) -> None:
    """The same for the partitions of the streams, which every role reads at start (found
    by the chaos run with partitions: `tally project`, restarted during a NATS node kill,
    exited with `nats: timeout` reading them)."""
    async with jetstream_later(tmp_path, "layout") as (parts, arrive):
        reading = asyncio.create_task(parts.layout())
        await asyncio.sleep(2)
        assert not reading.done(), reading  # before the fix: an error at once
        await arrive(lambda nc: ensure_streams(nc.jetstream(), StreamSettings(partitions=3)))
        layout = await asyncio.wait_for(reading, 60)
        assert (layout.count(ORDERS), layout.count(STOCK)) == (3, 3)
