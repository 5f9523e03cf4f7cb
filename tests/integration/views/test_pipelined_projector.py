"""The pipelined projector (the next batch taken while this one is in PostgreSQL) against
real NATS and PostgreSQL: a batch that fails lets no batch taken behind it be applied, and
every event is applied once, in order, after the session that failed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from events.stock import StockReceived
from projections.base import Connection
from projections.batch import Retry
from projections.consumers import ensure_projection_consumer
from projections.dlq import ensure_dlq_stream
from projections.facts import Fact
from projections.registry import get_projection
from projections.runner import Projector, ProjectorSettings
from support.read_side import publish, rows, wait_position
from support.wrapped_projection import WrappedProjection

pytestmark = pytest.mark.integration


class FailsOnce(WrappedProjection):
    """The stock projection, but its `fail_at`-th apply fails once with an error of the
    database's kind (not poison: the session ends and starts again from the checkpoint);
    the sequences of every apply that passed are kept, in order."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(get_projection("stock"))
        self._calls = 0
        self._fail_at = fail_at
        self.applied: list[list[int]] = []

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        self._calls += 1
        await self.real.apply(conn, schema, facts)
        if self._calls == self._fail_at:
            raise ConnectionError("the database went away mid-batch")
        self.applied.append([fact.seq for fact in facts])


async def test_a_failed_batch_lets_no_batch_behind_it_be_applied(nc: NATS, db: str) -> None:
    count = 40
    await publish(nc, [(f"stock.sku-{i % 3}", StockReceived(quantity=i + 1)) for i in range(count)])
    await ensure_dlq_stream(nc.jetstream())
    projection = FailsOnce(fail_at=2)  # the second batch, while the third is being taken
    await ensure_projection_consumer(nc.jetstream(), projection)
    settings = ProjectorSettings(batch_size=4, retry=Retry(attempts=2, backoff=0.01))
    stop = asyncio.Event()
    running = asyncio.create_task(Projector(projection, nc, db, settings).run(stop))
    try:
        await wait_position(db, "stock", count)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    seqs = [seq for batch in projection.applied for seq in batch]
    assert seqs == list(range(1, count + 1))  # once each, in order: the failed batch again
    on_hand = {row[0]: row[1] for row in await rows(db, "stock_items", "sku")}
    assert on_hand == {f"sku-{k}": sum(i + 1 for i in range(k, count, 3)) for k in range(3)}
    conn = await asyncpg.connect(db)
    try:
        audit = await conn.fetchrow(
            "SELECT position, applied, dead, ignored FROM projection_checkpoints"
            " WHERE name = 'stock'"
        )
    finally:
        await conn.close()
    assert tuple(audit) == (count, count, 0, 0)
