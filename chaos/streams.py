"""The harness's own reading of what the deployment stored: every message of the three
streams (decoded by the event codec into plain records), the fulfilment consumer's and the
dead-letter stream's state, the views and checkpoints as PostgreSQL holds them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.codec import DecodeError, decode
from events.subjects import STREAM_SUBJECTS

STREAMS = ("ORDERS", "STOCK", "PAYMENTS")


def aggregate_subject(stored: str) -> str:
    """`orders.<p>.<id>` (stored in partition p) or `orders.<id>` -> `orders.<id>`."""
    prefix, _, rest = stored.partition(".")
    return f"{prefix}.{rest.rpartition('.')[2]}"


@dataclass(frozen=True)
class Stored:
    """One stored event, as plain data; `subject` is the aggregate's (`orders.<id>`), as
    written, also when the stream stores it in a partition."""

    stream: str
    seq: int
    subject: str
    type: str
    data: dict[str, Any]
    event_id: str
    correlation_id: str
    causation_id: str | None

    @property
    def entity(self) -> str:
        """The aggregate id: the order id or SKU at the end of the subject."""
        return self.subject.rpartition(".")[2]

    @property
    def order_id(self) -> str | None:
        """The order this event is about (stock events name it in their data)."""
        if self.stream in ("ORDERS", "PAYMENTS"):
            return self.entity
        order = self.data.get("order_id")
        return str(order) if order is not None else None

    def line(self) -> str:
        data = {k: v for k, v in self.data.items() if k != "lines"} | (
            {"lines": len(self.data["lines"])} if "lines" in self.data else {}
        )
        return (
            f"{self.stream}:{self.seq} {self.subject} {self.type} {data} "
            f"id={self.event_id[:8]} corr={self.correlation_id} "
            f"cause={(self.causation_id or '-')[:8]}"
        )


@dataclass
class Streams:
    events: dict[str, list[Stored]] = field(default_factory=dict)  # stream -> in order
    last_seq: dict[str, int] = field(default_factory=dict)
    poison: list[str] = field(default_factory=list)  # positions that are not valid events

    def add(
        self, stream: str, seq: int, stored_subject: str, data: bytes, headers: dict[str, str]
    ) -> None:
        subject = aggregate_subject(stored_subject)
        try:
            recorded = decode(data, headers, stream=stream, seq=seq, subject=subject)
        except DecodeError as error:
            self.poison.append(f"{stream}:{seq} {error}")
            return
        envelope = recorded.envelope
        self.events[stream].append(
            Stored(
                stream,
                seq,
                subject,
                recorded.event_type,
                recorded.event.model_dump(mode="json"),
                str(envelope.event_id),
                envelope.correlation_id,
                envelope.causation_id,
            )
        )

    def all(self) -> list[Stored]:
        return [event for stream in STREAMS for event in self.events.get(stream, [])]


async def read_stream(nc: NATS, stream: str, into: Streams, timeout: float = 120) -> None:
    last = (await nc.jetstream().stream_info(stream)).state.last_seq
    into.last_seq[stream], into.events[stream] = last, []
    async with asyncio.timeout(timeout):
        async for message in stream_messages(nc, stream, last):
            seq = message.metadata.sequence.stream
            into.add(stream, seq, message.subject, message.data, message.headers or {})


async def stream_messages(nc: NATS, stream: str, last: int) -> AsyncIterator[Msg]:
    """Every message of `stream` from its first up to sequence `last`, in order, each once.
    In a 3-node cluster a fresh consumer can answer "no responders" (503) until its
    assignment has reached the node we talk to, or go quiet while a node that just came back
    catches up: then the read goes on from the last message read, with a new consumer."""
    # `orders.>`: a partitioned stream stores `orders.<id>` as `orders.<p>.<id>`
    subjects = STREAM_SUBJECTS[stream].removesuffix("*") + ">"
    seq = 0
    while seq < last:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=seq + 1,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
        )
        try:
            sub = await nc.jetstream().pull_subscribe(subjects, stream=stream, config=config)
        except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError):
            await asyncio.sleep(0.5)
            continue
        try:
            while seq < last:
                for message in await sub.fetch(1000, timeout=10):
                    seq = message.metadata.sequence.stream
                    yield message
        except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError):
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()


async def read_streams(nc: NATS) -> Streams:
    streams = Streams()
    for stream in STREAMS:
        await read_stream(nc, stream, streams)
    return streams


async def fulfilment_backlog(nc: NATS) -> int:
    """Order events the fulfilment consumer has not settled yet (pending + unacked)."""
    info = await nc.jetstream().consumer_info("ORDERS", "fulfilment")
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def dead_letters(nc: NATS) -> int:
    try:
        return int((await nc.jetstream().stream_info("DLQ")).state.messages)
    except nats.js.errors.NotFoundError:
        return 0


async def query(database_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def checkpoints(database_url: str) -> dict[str, int]:
    rows = await query(database_url, "SELECT name, position FROM projection_checkpoints")
    return {row[0]: int(row[1]) for row in rows}


async def last_seqs(nc: NATS) -> dict[str, int]:
    js = nc.jetstream()
    return {s: int((await js.stream_info(s)).state.last_seq) for s in STREAMS}
