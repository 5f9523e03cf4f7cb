"""`tally migrate` rewriting a stream created before partitions existed: every event stays
at its sequence with its body and headers, now at its partitioned subject; the write side
then loads and appends as before; durable consumers go back where they were acknowledged."""

from __future__ import annotations

from uuid import uuid4

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from events.envelope import Envelope
from events.partitions import Layout
from events.stock import StockReceived, StockReserved
from support.defaults import TEST_NATS_TIMEOUT
from write_side.errors import ConcurrencyConflict
from write_side.event_store import JetStreamEventStore
from write_side.ports import PendingEvent
from write_side.repartition import repartition_stream, restore_positions
from write_side.streams import StreamSettings, ensure_streams, read_layout

pytestmark = pytest.mark.integration


def received(quantity: int) -> PendingEvent:
    return PendingEvent(StockReceived(quantity=quantity), Envelope())


async def test_a_stream_is_repartitioned_keeping_every_event_at_its_sequence(
    nats_url: str,
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamSettings())
    store = JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT)
    skus = [f"SKU-{index}" for index in range(12)]
    for round_no in range(3):
        for sku in skus:
            last = await store.last_message(f"stock.{sku}")
            await store.append(f"stock.{sku}", [received(round_no + 1)], last.seq if last else 0)
    before = [await js.get_msg("STOCK", seq) for seq in range(1, 13)]
    batch = [
        PendingEvent(StockReserved(order_id=str(uuid4()), quantity=1), Envelope()) for _ in "ab"
    ]
    last_a = await store.last_message("stock.SKU-0")
    assert last_a is not None
    await store.append("stock.SKU-0", batch, last_a.seq)  # an atomic batch
    await js.add_consumer("STOCK", ConsumerConfig(durable_name="reader", ack_policy=AckPolicy.ALL))
    sub = await js.pull_subscribe_bind("reader", "STOCK")
    (fifth,) = [m for m in await sub.fetch(5, timeout=2)][-1:]
    await fifth.ack()
    total = (await js.stream_info("STOCK")).state.last_seq
    settled: list[int] = []

    async def settle(last: int) -> None:
        settled.append(last)

    floors = await repartition_stream(nc, "STOCK", StreamSettings(partitions=3), settle)
    assert floors == {"reader": 5} and settled == [total]
    layout = await read_layout(js)
    assert layout == Layout({"ORDERS": 1, "STOCK": 3})
    info = await js.stream_info("STOCK")
    assert (info.state.first_seq, info.state.last_seq, info.state.messages) == (1, total, total)
    for seq, old in enumerate(before, 1):
        new = await js.get_msg("STOCK", seq)
        sku = (old.subject or "").rpartition(".")[2]
        assert new.subject == layout.stored("STOCK", f"stock.{sku}")
        assert new.data == old.data
        assert {k: v for k, v in (new.headers or {}).items() if not k.startswith("Nats-Exp")} == {
            k: v for k, v in (old.headers or {}).items() if not k.startswith("Nats-Exp")
        }
    await ensure_streams(js, StreamSettings(partitions=3))  # as `tally migrate` goes on
    await js.add_consumer("STOCK", ConsumerConfig(durable_name="reader", ack_policy=AckPolicy.ALL))
    await restore_positions(js, "STOCK", floors)
    sub = await js.pull_subscribe_bind("reader", "STOCK")
    assert [m.metadata.sequence.stream for m in await sub.fetch(1, timeout=2)] == [6]

    partitioned = JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT, layout=layout)
    loaded = await partitioned.load("stock.SKU-0")
    assert len(loaded.events) == 5 and loaded.last_seq == total
    with pytest.raises(ConcurrencyConflict):
        await partitioned.append("stock.SKU-0", [received(9)], total - 1)
    ack = await partitioned.append("stock.SKU-0", [received(9)], total)
    assert ack.last_seq == total + 1
    await nc.close()
