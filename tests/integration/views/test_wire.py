"""`projections.wire` against a real server: a raw inbox gets its messages as bytes,
with headers and ack metadata read as nats-py reads them, status messages recognised,
and every other subscription of the same connection untouched."""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from projections.wire import RawInbox, ack_metadata, parse_headers, status_of
from support.read_side import order_history, publish

pytestmark = pytest.mark.integration
Raw = tuple[bytes, bytes, bytes | None, bytes]


async def test_a_raw_inbox_reads_a_pull_consumer_as_nats_py_would(nc: NATS) -> None:
    await publish(nc, order_history(3))
    js = nc.jetstream()
    for name in ("raw", "plain"):
        await js.add_consumer("STOCK", ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL))
    raw: list[Raw] = []
    plain: list[Msg] = []
    arrived = asyncio.Event()

    def sink(subject: bytes, reply: bytes, headers: bytes | None, data: bytes) -> None:
        raw.append((subject, reply, headers, data))
        arrived.set()

    async def on_plain(msg: Msg) -> None:
        plain.append(msg)
        arrived.set()

    inbox = RawInbox(nc, sink)
    await inbox.start()
    assert "parse" in vars(nc._ps)  # nats-py's parser fronted (projections.wire_parser)
    other = await nc.subscribe(nc.new_inbox(), cb=on_plain)
    request = json.dumps({"batch": 10, "expires": 300_000_000}).encode()
    for name, reply in (("raw", inbox.subject), ("plain", other.subject)):
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.STOCK.{name}", request, reply=reply)
    async with asyncio.timeout(5):
        while len([r for r in raw if r[1]]) < 6 or len([m for m in plain if m.reply]) < 6:
            arrived.clear()
            await arrived.wait()
        while len(raw) < 7:  # the request expires: a 408 status without data
            arrived.clear()
            await arrived.wait()
    await inbox.close()
    await other.unsubscribe()
    data = [r for r in raw if r[1]]
    expected = [m for m in plain if m.reply]
    assert [d[3] for d in data] == [m.data for m in expected]
    assert [parse_headers(d[2]) for d in data] == [m.headers for m in expected]
    assert [d[0].decode() for d in data] == [m.subject for m in expected]
    assert [ack_metadata(d[1].decode())[:3] for d in data] == [
        ("STOCK", m.metadata.sequence.stream, m.metadata.num_delivered) for m in expected
    ]
    assert all(status_of(d[2]) is None for d in data)
    status = status_of(raw[-1][2])
    assert status is not None and status[0] == "408"
    assert status[2].get("Nats-Pending-Messages") == "4"


async def test_a_pull_reader_asks_again_as_soon_as_its_request_expires(
    nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that ends (408) while `take` waits is followed by the next one at once, not
    after `take`'s own timeout: an event appended in between is delivered to the waiting
    `take` (it was left unseen for up to half a second, a read-your-writes stall)."""
    from projections import pull

    monkeypatch.setattr(pull, "EXPIRES", 0.2)
    js = nc.jetstream()
    await js.add_consumer("STOCK", ConsumerConfig(durable_name="gap", ack_policy=AckPolicy.ALL))
    reader = pull.PullReader(nc, "STOCK", "gap", prefetch=10)
    await reader.start()
    try:
        waiting = asyncio.create_task(reader.take(10, timeout=3.0))
        await asyncio.sleep(0.6)  # the first request expired meanwhile
        await publish(nc, order_history(1))
        taken = await waiting
    finally:
        await reader.close()
    # order_history(1) appends two STOCK events: the second may or may not have arrived
    # by the time the waiting take returns; without a new request it would return nothing
    assert [message.seq for message in taken] in ([1], [1, 2])
