"""The lean JetStream wire against a real nats-server: nats-py internals it hooks (the
message handler, the outgoing buffer, the flusher) still behave as it expects."""

import asyncio
import time

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import APIError, NoStreamResponseError

from events.envelope import MSG_ID
from write_side.atomic_batch import append_batch, append_one
from write_side.jetstream_wire import JetStreamWire, header_block

pytestmark = pytest.mark.integration
EXPECT = "Nats-Expected-Last-Subject-Sequence"


async def test_many_appends_in_flight_each_get_their_own_ack(nc: NATS) -> None:
    wire = JetStreamWire(nc)
    await wire.start()
    acks = await asyncio.gather(
        *(
            append_one(wire, f"stock.W{i}", b"{}", header_block({EXPECT: "0"}), timeout=2)
            for i in range(500)
        )
    )
    assert [ack.stream for ack in acks] == ["STOCK"] * 500
    assert sorted(ack.seq for ack in acks) == list(range(1, 501))
    for i, ack in enumerate(acks):  # the ack of each request is its own message's
        stored = await nc.jetstream().get_last_msg("STOCK", f"stock.W{i}")
        assert stored.seq == ack.seq


async def test_refusals_duplicates_and_no_stream(nc: NATS) -> None:
    wire = JetStreamWire(nc)
    await wire.start()
    block = header_block({MSG_ID: "id-1", EXPECT: "0"})
    first = await append_one(wire, "stock.X", b"{}", block, timeout=2)
    again = await append_one(wire, "stock.X", b"{}", header_block({MSG_ID: "id-1"}), timeout=2)
    assert (again.seq, again.duplicate, first.duplicate) == (first.seq, True, False)
    with pytest.raises(APIError) as refused:
        await append_one(wire, "stock.X", b"{}", header_block({EXPECT: "0"}), timeout=2)
    assert refused.value.err_code == 10071
    with pytest.raises(NoStreamResponseError):
        await append_one(wire, "nowhere.x", b"{}", header_block({}), timeout=2)


async def test_no_answer_times_out_and_a_late_one_is_dropped(nc: NATS) -> None:
    wire = JetStreamWire(nc)
    await wire.start()
    heard: list[bytes] = []

    async def responder(msg: object) -> None:
        await asyncio.sleep(0.3)
        heard.append(b"late")
        await nc.publish(msg.reply, b"{}")  # type: ignore[attr-defined]

    await nc.subscribe("slow.service", cb=responder)
    with pytest.raises(TimeoutError):
        await wire.request("slow.service", header_block({}), b"", timeout=0.1)
    await asyncio.sleep(0.5)
    assert heard == [b"late"]  # answered after the wait ended: ignored, nothing raised


async def test_answers_that_came_in_while_the_loop_was_stalled_are_not_timeouts(
    nc: NATS,
) -> None:
    # The appends are stored and answered at once, but the loop is held up (a starved or
    # busy process) past their timeout before it reads the answers: due timers run before
    # the socket is read, and without a grace each would be reported as timed out (and
    # repeated: a duplicate and a reload).
    wire = JetStreamWire(nc)
    await wire.start()
    appends = [
        asyncio.create_task(append_one(wire, f"stock.S{i}", b"{}", b"", timeout=0.3))
        for i in range(5)
    ]
    await asyncio.sleep(0)  # queued
    await asyncio.sleep(0)  # written to the socket, not yet answered
    time.sleep(1.0)  # noqa: ASYNC251 - the loop stalls, on purpose, past the timeout
    acks = await asyncio.gather(*appends)
    assert sorted(ack.seq for ack in acks) == [1, 2, 3, 4, 5]
    # and a wait whose answer does not come still ends: after its time, plus the grace
    # while the loop is late, never more than twice its timeout

    async def mute(msg: object) -> None:
        return None

    await nc.subscribe("mute.service", cb=mute)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await wire.request("mute.service", b"", b"", timeout=0.2)
    assert time.monotonic() - started < 0.4


async def test_other_subscriptions_keep_nats_py_messages(nc: NATS) -> None:
    wire = JetStreamWire(nc)
    await wire.start()
    got: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def plain(msg: object) -> None:
        await got.put((msg.data.decode(), msg.headers["A"]))  # type: ignore[attr-defined]

    await nc.subscribe("plain.subject", cb=plain)
    await nc.publish("plain.subject", b"hello", headers={"A": "b"})
    assert await asyncio.wait_for(got.get(), 2) == ("hello", "b")


async def test_an_atomic_batch_on_the_wire(nc: NATS) -> None:
    wire = JetStreamWire(nc)
    await wire.start()
    messages = [(b"{}", {MSG_ID: f"b-{i}"}) for i in range(3)]
    ack = await append_batch(wire, "stock.B", messages, first_headers={EXPECT: "0"}, timeout=2)
    assert ack.seq == (await nc.jetstream().stream_info("STOCK")).state.last_seq
    with pytest.raises(APIError) as stale:
        more = [(b"{}", {MSG_ID: f"c-{i}"}) for i in range(2)]
        await append_batch(wire, "stock.B", more, first_headers={EXPECT: "0"}, timeout=2)
    assert stale.value.err_code == 10071


async def test_closed_wire_stops_taking_its_inbox(nc: NATS) -> None:
    wire = JetStreamWire(nc)
    await wire.start()
    await wire.close()
    assert not wire.started
    await wire.start()  # and may start again
    ack = await append_one(wire, "stock.C", b"{}", header_block({}), timeout=2)
    assert ack.stream == "STOCK"


async def test_a_request_answered_by_several_messages(nc: NATS) -> None:
    wire = JetStreamWire.of(nc)
    await wire.start()

    async def responder(msg: object) -> None:
        for part in (b"1", b"2", b"end"):
            await nc.publish(msg.reply, part)  # type: ignore[attr-defined]

    await nc.subscribe("many.service", cb=responder)
    taken: list[bytes] = []

    def take(headers: bytes | None, data: bytes) -> bool:
        taken.append(data)
        return data == b"end"

    await wire.request_many("many.service", b"", b"", take, timeout=2)
    assert taken == [b"1", b"2", b"end"]

    def refuse(headers: bytes | None, data: bytes) -> bool:
        raise ValueError(data.decode())

    with pytest.raises(ValueError, match="1"):  # what `take` raises reaches the caller
        await wire.request_many("many.service", b"", b"", refuse, timeout=2)
    with pytest.raises(TimeoutError):  # never complete
        await wire.request_many("many.service", b"", b"", lambda h, d: False, timeout=0.2)


async def test_one_socket_write_carries_the_wire_and_nats_py(nc: NATS) -> None:
    wire = JetStreamWire.of(nc)
    assert JetStreamWire.of(nc) is wire  # one per connection
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def plain(msg: object) -> None:
        await got.put(msg.data)  # type: ignore[attr-defined]

    await nc.subscribe("both.>", cb=plain)
    await nc.flush()
    transport = nc._transport
    assert transport is not None
    writes: list[list[bytes]] = []
    original = transport.writelines

    def counted(frames: list[bytes]) -> None:
        writes.append(list(frames))
        original(frames)

    transport.writelines = counted  # type: ignore[method-assign,assignment]
    try:
        wire.publish("both.wire", b"", b"from the wire")
        await nc.publish("both.nats", b"from nats-py")
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        transport.writelines = original  # type: ignore[method-assign]
    assert len(writes) == 1 and len(writes[0]) == 2  # nats-py's PUB first, then the frame
    bodies = {await asyncio.wait_for(got.get(), 2) for _ in range(2)}
    assert bodies == {b"from the wire", b"from nats-py"}
