"""The fulfilment consumer's pull feed on a real NATS server: deliveries with their stream
sequence and delivery count, credit given back by the server's statuses, acks and naks in
the wire's frames."""

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from support.projector_faults import until
from support.servers import NatsServer
from write_side.fulfilment import feed as feed_module
from write_side.fulfilment.feed import ACKNOWLEDGE, Delivery, PullFeed, ack_metadata, nak

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await js.add_stream(StreamConfig(name="FEED", subjects=["feed.>"]))
    await js.add_consumer(
        "FEED", ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
    )
    try:
        yield connection
    finally:
        await connection.close()


class Taken:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.arrived = asyncio.Event()

    def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self.arrived.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.deliveries) < count:
                self.arrived.clear()
                await self.arrived.wait()


async def test_deliveries_acks_and_naks(nc: NATS) -> None:
    js = nc.jetstream()
    for i in range(3):
        await js.publish(f"feed.o{i}", f"body {i}".encode(), headers={"Tally-Event-Type": "X"})
    taken = Taken()
    feed = PullFeed(nc, "FEED", "c", taken)
    await feed.start()
    feed.pull(10)
    assert feed.credit == 10
    await taken.wait_for(3)

    assert [d.subject for d in taken.deliveries] == ["feed.o0", "feed.o1", "feed.o2"]
    assert [d.stream_seq for d in taken.deliveries] == [1, 2, 3]
    assert [d.deliveries for d in taken.deliveries] == [1, 1, 1]
    assert taken.deliveries[0].data == b"body 0"
    assert taken.deliveries[0].headers["Tally-Event-Type"] == "X"
    assert feed.credit == 7

    feed.settle(taken.deliveries[0], ACKNOWLEDGE)
    feed.settle(taken.deliveries[1], ACKNOWLEDGE)
    feed.settle(taken.deliveries[2], nak(0.0))  # comes back at once, delivered twice
    await taken.wait_for(4)
    again = taken.deliveries[3]
    assert (again.subject, again.stream_seq, again.deliveries) == ("feed.o2", 3, 2)
    feed.settle(again, ACKNOWLEDGE)
    await asyncio.sleep(0.2)
    info = await js.consumer_info("FEED", "c")
    assert (info.num_ack_pending, info.num_pending) == (0, 0)
    await feed.close()


async def test_an_expired_request_gives_its_credit_back(
    nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "EXPIRES", 0.3)
    taken = Taken()
    feed = PullFeed(nc, "FEED", "c", taken)
    await feed.start()
    feed.pull(5)
    await nc.jetstream().publish("feed.one", b"x")
    await taken.wait_for(1)
    assert feed.credit == 4
    # the 408 at the request's expiry says how much of it was left
    await until(lambda: feed.credit == 0, 3, "credit back after a 408")
    await feed.close()


async def test_a_missing_consumer_gives_the_credit_back(nc: NATS) -> None:
    feed = PullFeed(nc, "FEED", "nobody-listens", Taken())
    await feed.start()
    feed.pull(5)
    await until(lambda: feed.credit == 0, 3, "credit back after a 503 (no responders)")
    await feed.close()


async def test_a_reconnect_forgets_the_credit_of_the_old_connection(
    nc: NATS, nats_server: NatsServer
) -> None:
    taken = Taken()
    feed = PullFeed(nc, "FEED", "c", taken)
    await feed.start()
    feed.pull(5)
    assert feed.outstanding() == 5
    reconnects = nc.stats["reconnects"]
    await asyncio.to_thread(nats_server.kill)
    await asyncio.to_thread(nats_server.restart)
    await until(lambda: nc.stats["reconnects"] > reconnects, 10, "the client reconnected")
    await until(lambda: nc.is_connected, 5, "connected again")
    assert feed.outstanding() == 0  # the restarted server knows no request of ours
    feed.pull(5)  # the inbox was subscribed again by nats-py: deliveries arrive
    await nc.jetstream().publish("feed.after", b"x")
    await taken.wait_for(1)
    assert taken.deliveries[0].subject == "feed.after"
    await feed.close()


async def test_silence_beyond_the_expiry_forgets_the_credit(
    nc: NATS, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A request the server never answers (here: sent to nobody, as a request that reached
    # a server which then forgot it) must not hold the window for ever.
    monkeypatch.setattr(feed_module, "EXPIRES", 0.2)
    feed = PullFeed(nc, "FEED", "c", Taken())
    await feed.start()
    feed.credit = 5  # asked, and never answered
    assert feed.outstanding() == 5
    await until(lambda: feed.outstanding() == 0, 3, "silent credit forgotten")
    await feed.close()


def test_the_ack_subject_names_sequence_and_deliveries() -> None:
    assert ack_metadata(b"$JS.ACK.ORDERS.fulfilment.3.42.17.1700000000.5") == (42, 3)
    domain = b"$JS.ACK.hub.ACCHASH.ORDERS.fulfilment.1.7.7.1700000000.0.token"
    assert ack_metadata(domain) == (7, 1)
