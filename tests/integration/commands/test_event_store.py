"""The JetStream event store passes the event-store contract against a real nats-server;
and what only JetStream has: the envelope in headers, long subjects read in several
direct-get batches, and appends whose answer is lost while the server stalls."""

import asyncio
import json
import os
import signal

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from contract.event_store import Elapse, EventStoreContract, MakeStore, received
from events.envelope import MSG_ID, Envelope
from events.stock import StockReserved
from support.defaults import TEST_NATS_TIMEOUT
from support.servers import NatsServer
from support.signals import stalled
from write_side.direct_get import BATCH
from write_side.errors import ConcurrencyConflict, StoreUnavailable
from write_side.event_store import JetStreamEventStore
from write_side.ports import EventStore, LastMessage, PendingEvent
from write_side.streams import StreamSettings, ensure_streams

pytestmark = pytest.mark.integration


class TestJetStreamEventStore(EventStoreContract):
    @pytest.fixture
    def make_store(self, nc: NATS) -> MakeStore:
        async def make(duplicate_window: float) -> EventStore:
            settings = StreamSettings(duplicate_window_seconds=duplicate_window)
            await ensure_streams(nc.jetstream(), settings)
            return JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT)

        return make

    @pytest.fixture
    def elapse(self) -> Elapse:
        return asyncio.sleep


async def test_headers_carry_the_envelope(store: JetStreamEventStore, nc: NATS) -> None:
    envelope = Envelope(correlation_id="corr-9", causation_id="cause-9")
    event = StockReserved(order_id="o-1", quantity=2)
    await store.append("stock.A", [PendingEvent(event, envelope)], expected_seq=0)
    message = await nc.jetstream().get_last_msg("STOCK", "stock.A")
    assert message.headers is not None
    assert message.headers["Tally-Event-Type"] == "StockReserved"
    assert message.headers["Tally-Event-Version"] == "1"
    assert message.headers["Tally-Correlation-Id"] == "corr-9"
    assert message.headers["Tally-Causation-Id"] == "cause-9"
    assert message.headers["Tally-Occurred-At"].endswith("Z")
    assert message.headers[MSG_ID] == str(envelope.event_id)


async def test_load_reads_past_one_direct_get_batch(store: JetStreamEventStore) -> None:
    last = 0
    for _ in range(3):
        batch = [received(1) for _ in range(500)]
        last = (await store.append("stock.MANY", batch, expected_seq=last)).last_seq
    loaded = await store.load("stock.MANY")
    assert len(loaded.events) == 1500
    assert loaded.last_seq == last


async def test_a_load_after_a_sequence_asks_for_a_batch_only_when_something_follows(
    store: JetStreamEventStore, nc: NATS
) -> None:
    """A batch direct get makes nats-server count what follows before it answers, a walk
    over the stored messages: reading after a known sequence asks for the one next message
    first, and for a batch only when it found one."""
    requests: list[dict[str, object]] = []

    async def seen(msg: Msg) -> None:
        requests.append(json.loads(msg.data))

    watch = await nc.subscribe("$JS.API.DIRECT.GET.STOCK", cb=seen)
    await nc.flush()
    last = 0
    for _ in range(3):
        last = (await store.append("stock.AFTER", [received(1)], expected_seq=last)).last_seq
    after_last = await store.load("stock.AFTER", from_seq=last + 1)
    after_first = await store.load("stock.AFTER", from_seq=last - 1)
    await nc.flush()
    await watch.unsubscribe()
    assert after_last.events == []
    assert [event.seq for event in after_first.events] == [last - 1, last]
    assert requests == [
        {"seq": last + 1, "next_by_subj": "stock.AFTER"},
        {"seq": last - 1, "next_by_subj": "stock.AFTER"},
        {"seq": last, "batch": BATCH, "next_by_subj": "stock.AFTER"},
    ]


async def test_a_conflict_is_resolved_from_the_sequence_its_error_names(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 10071 names the subject's last sequence: the store reads what was stored after
    the expectation (a direct get) to tell a conflict from its own earlier write, not the
    subject's last message (a stream API request), and the conflict carries it."""
    first = await store.append("stock.NAMED", [received(1)], expected_seq=0)

    async def no_lookup(subject: str) -> LastMessage | None:
        raise AssertionError(f"looked up the last message of {subject}")

    monkeypatch.setattr(store, "last_message", no_lookup)
    with pytest.raises(ConcurrencyConflict) as raised:
        await store.append("stock.NAMED", [received(2)], expected_seq=0)
    assert raised.value.actual == first.last_seq
    newer = raised.value.newer  # what was stored after the expectation, read once
    assert newer is not None and newer.last_seq == first.last_seq
    assert [getattr(recorded.event, "quantity", 0) for recorded in newer.events] == [1]
    mine = received(3)
    stored = await store.append("stock.NAMED", [mine], expected_seq=first.last_seq)
    # its retry (same event id, the expectation now stale) finds it stored: a duplicate
    again = await store.append("stock.NAMED", [mine], expected_seq=first.last_seq)
    assert again.duplicate and not stored.duplicate
    assert (again.first_seq, again.last_seq) == (stored.first_seq, stored.last_seq)


class ResumingStore(JetStreamEventStore):
    """When the append, its answer lost, asks what was stored: resumes the stalled server
    and waits until the stream holds the message (the server stores and answers lookups in
    different goroutines), so that the lookup meets the case under test: stored, unanswered."""

    def __init__(self, nc: NATS, pid: int) -> None:
        super().__init__(nc, timeout=1.0)
        self.nc = nc
        self.pid = pid
        self.asked = 0

    async def last_message(self, subject: str) -> LastMessage | None:
        self.asked += 1
        os.kill(self.pid, signal.SIGCONT)
        js = self.nc.jetstream(timeout=TEST_NATS_TIMEOUT)
        async with asyncio.timeout(10):
            while (await js.stream_info("STOCK")).state.last_seq < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return await super().last_message(subject)


async def test_an_append_whose_answer_is_lost_is_resolved_as_stored(
    nats_server: NatsServer, nc: NATS
) -> None:
    pending = received(1)
    with stalled(nats_server) as pid:
        store = ResumingStore(nc, pid)
        result = await store.append("stock.A", [pending], expected_seq=0)
    assert store.asked == 1  # the publish timed out; the last message id settled it
    assert (result.first_seq, result.last_seq) == (1, 1)
    last = await store.last_message("stock.A")
    assert last == LastMessage(1, str(pending.envelope.event_id))


async def test_an_unanswered_append_is_unavailable_and_its_retry_finds_it(
    nats_server: NatsServer, nc: NATS
) -> None:
    store = JetStreamEventStore(nc, timeout=0.3)
    pending = received(1)
    with stalled(nats_server), pytest.raises(StoreUnavailable):
        await store.append("stock.A", [pending], expected_seq=0)
    # 503 did not mean "not stored": the stalled server stored it once resumed. The
    # client's retry (same event id, same expectation) is recognised, not doubled.
    retry = await JetStreamEventStore(nc, timeout=TEST_NATS_TIMEOUT).append(
        "stock.A", [pending], expected_seq=0
    )
    assert (retry.first_seq, retry.last_seq) == (1, 1)
    assert len((await store.load("stock.A")).events) == 1


async def test_the_last_message_of_an_unreplicated_stream_is_a_direct_get(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = received(1)
    await store.append("stock.D", [pending], expected_seq=0)

    async def not_asked(*args: object, **kwargs: object) -> None:
        raise AssertionError("nats-py's message get was asked")

    monkeypatch.setattr(store._js, "get_last_msg", not_asked)
    assert await store.last_message("stock.D") == LastMessage(1, pending.envelope.event_id_text)
    assert await store.last_message("stock.none") is None


async def test_an_unanswered_last_message_lookup_is_unavailable(
    nats_server: NatsServer, nc: NATS
) -> None:
    store = JetStreamEventStore(nc, timeout=0.3)
    await store.append("stock.E", [received(1)], expected_seq=0)
    with stalled(nats_server), pytest.raises(StoreUnavailable, match="last message"):
        await store.last_message("stock.E")
