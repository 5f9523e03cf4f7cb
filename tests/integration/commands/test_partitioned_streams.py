"""A stream split into partitions by a subject transform, against a real server: writers
append to `orders.<id>` exactly as before, the server stores `orders.<p>.<id>` with p as
`events.partitions` computes it, and the optimistic concurrency of an aggregate (the
expected last subject sequence, atomic batches) holds on the stored subject."""

from __future__ import annotations

from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import APIError, BadRequestError

from events.codec import encode
from events.envelope import Envelope
from events.partitions import partition_of
from events.stock import StockReceived
from support.defaults import TEST_NATS_TIMEOUT
from write_side.atomic_batch import publish_batch
from write_side.errors import ConcurrencyConflict
from write_side.event_store import EXPECTED_LAST_SUBJECT_SEQUENCE as EXPECTED
from write_side.event_store import JetStreamEventStore
from write_side.ports import PendingEvent
from write_side.streams import RepartitionNeeded, StreamSettings, ensure_streams, read_layout

pytestmark = pytest.mark.integration


@pytest.fixture
async def partitioned(nats_url: str) -> NATS:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), StreamSettings(partitions=4))
    return nc


async def test_the_server_partitions_as_we_compute(partitioned: NATS) -> None:
    js = partitioned.jetstream()
    skus = [f"SKU-{index}" for index in range(40)] + [str(uuid4()) for _ in range(20)]
    for sku in skus:
        data, headers = encode(StockReceived(quantity=1), Envelope())
        await js.publish(f"stock.{sku}", data, headers=headers)
    for seq, sku in enumerate(skus, 1):
        stored = await js.get_msg("STOCK", seq)
        assert stored.subject == f"stock.{partition_of(sku, 4)}.{sku}"
    assert (await read_layout(js)).count("STOCK") == 4
    await partitioned.close()


async def test_an_aggregates_concurrency_holds_on_its_stored_subject(partitioned: NATS) -> None:
    js = partitioned.jetstream()

    def event() -> tuple[bytes, dict[str, str]]:
        return encode(StockReceived(quantity=1), Envelope())  # a new event id each time

    data, headers = event()
    await js.publish("stock.other", data, headers=headers)  # another aggregate's sequence
    data, headers = event()
    first = await js.publish("stock.A", data, headers={**headers, EXPECTED: "0"})
    data, headers = event()
    with pytest.raises(BadRequestError) as stale:
        await js.publish("stock.A", data, headers={**headers, EXPECTED: "0"})
    assert stale.value.err_code == 10071
    second = await js.publish("stock.A", data, headers={**headers, EXPECTED: str(first.seq)})
    batch = [encode(StockReceived(quantity=2), Envelope()) for _ in range(3)]
    with pytest.raises(APIError) as stale_batch:
        await publish_batch(
            partitioned, "stock.A", batch, first_headers={EXPECTED: str(first.seq)}, timeout=2
        )
    assert stale_batch.value.err_code == 10071
    answer = await publish_batch(
        partitioned, "stock.A", batch, first_headers={EXPECTED: str(second.seq)}, timeout=2
    )
    assert int(answer["seq"]) == second.seq + 3
    last = await js.get_last_msg("STOCK", f"stock.{partition_of('A', 4)}.A")
    assert last.seq == second.seq + 3
    await partitioned.close()


async def test_a_stream_holding_events_is_not_repartitioned_in_place(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), StreamSettings())
    data, headers = encode(StockReceived(quantity=1), Envelope())
    await nc.jetstream().publish("stock.A", data, headers=headers)
    with pytest.raises(RepartitionNeeded):
        await ensure_streams(nc.jetstream(), StreamSettings(partitions=2))
    await nc.close()


async def test_the_event_store_reads_and_appends_an_aggregate_of_a_partitioned_stream(
    partitioned: NATS,
) -> None:
    layout = await read_layout(partitioned.jetstream())
    store = JetStreamEventStore(partitioned, timeout=TEST_NATS_TIMEOUT, layout=layout)
    for sku in ("A", "B"):
        pending = [PendingEvent(StockReceived(quantity=n), Envelope()) for n in (1, 2)]
        await store.append(f"stock.{sku}", pending, 0)
    loaded = await store.load("stock.A")
    assert [event.event for event in loaded.events] == [
        StockReceived(quantity=1),
        StockReceived(quantity=2),
    ]
    assert loaded.last_seq == 2 and (await store.last_message("stock.B")) is not None
    with pytest.raises(ConcurrencyConflict):
        await store.append("stock.A", [PendingEvent(StockReceived(quantity=3), Envelope())], 1)
    await store.append("stock.A", [PendingEvent(StockReceived(quantity=3), Envelope())], 2)
    assert (await store.load("stock.A", from_seq=3)).last_seq == 5
    await partitioned.close()
