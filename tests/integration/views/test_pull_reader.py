"""`projections.pull.PullReader` against a real server: a reader slower than the server
holds no more than its prefetch (the rest of a backlog stays on the server), and still
reads every message once, in order."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from projections.pull import PullReader

pytestmark = pytest.mark.integration


async def test_a_slow_reader_holds_no_more_than_its_prefetch(nc: NATS) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BACKLOG", subjects=["backlog.>"]))
    total = 3000
    for first in range(0, total, 500):
        await asyncio.gather(
            *(js.publish(f"backlog.{n}", str(n).encode()) for n in range(first, first + 500))
        )
    config = ConsumerConfig(durable_name="slow", ack_policy=AckPolicy.ALL, max_ack_pending=-1)
    await js.add_consumer("BACKLOG", config)
    reader = PullReader(nc, "BACKLOG", "slow", prefetch=400, decode=False)
    await reader.start()
    seqs: list[int] = []
    held: list[int] = []
    try:
        while len(seqs) < total:
            batch = await reader.take(200, timeout=5)
            assert batch, f"nothing more after {len(seqs)}"
            seqs += [message.seq for message in batch]
            await reader.ack_all(batch[-1])
            await asyncio.sleep(0.05)  # applying the batch: the server is faster
            held.append(reader.held)
    finally:
        await reader.close()
    assert seqs == list(range(1, total + 1))
    assert max(held) <= 400, held  # before: +200 a batch, most of the stream at the end
