"""The JetStream adapter of the event-store port (`ports.EventStore`): one subject per
aggregate, optimistic concurrency on it.

Library errors become write-side errors here and nowhere else:
10071 / 10164 -> ConcurrencyConflict; no connection, no responders, 503 -> StoreUnavailable;
a timeout is ambiguous and is resolved by looking at the subject's last message id.
Reads of a replicated stream are checked against its leader (any replica serves a direct
get, and a follower may lag).
"""

import asyncio
import logging
import re
import time
from collections.abc import Sequence

import nats.errors
from nats.aio.client import Client as NATS
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from events.codec import (
    DecodeError,
    RecordedEvent,
    encode,
    encode_data,
    encode_header_lines,
)
from events.envelope import MSG_ID
from events.partitions import Layout
from events.subjects import split_subject
from write_side.atomic_batch import append_batch, read_ack
from write_side.direct_get import DirectGetError, DirectReader, StoredMessage
from write_side.errors import ConcurrencyConflict, StoreUnavailable
from write_side.jetstream_wire import JetStreamWire
from write_side.marked_events import decode_marked
from write_side.ports import AppendResult, LastMessage, LoadedEvents, PendingEvent, check_batch

log = logging.getLogger(__name__)

EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
_EXPECTED_LINE = f"{EXPECTED_LAST_SUBJECT_SEQUENCE}: "
CONFLICT_CODES = frozenset({10071, 10164})
DUPLICATE_IN_BATCH = 10201  # an atomic batch re-sent with ids already stored
_UNAVAILABLE = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionDrainingError,
    # no responders to a publish: no stream leader (an R3 election) and nothing stored
    NoStreamResponseError,
)
_LOOKUP_FAILED = (APIError, TimeoutError, nats.errors.TimeoutError, *_UNAVAILABLE)
REPLICAS_TTL = 30.0
LOOKUP_RETRY = 5.0  # after a lookup of the replicas that went unanswered


class JetStreamEventStore:
    """`timeout`: how long one request to JetStream may take (the `nats_timeout` setting);
    `layout`: the streams' partitions (`write_side.streams.read_layout`): appends go to the
    aggregate's subject as always, reads by subject to where the server stores it."""

    def __init__(self, nc: NATS, *, timeout: float, layout: Layout | None = None) -> None:
        self._nc = nc
        self._layout = layout or Layout()
        self._js = nc.jetstream(timeout=timeout)
        self._timeout = timeout
        self._reader = DirectReader(nc)
        self._wire = JetStreamWire.of(nc)  # shared with the reader and the consumer
        self._replicas: dict[str, tuple[bool, float]] = {}  # stream -> (replicated, until)
        self._lookups: dict[str, asyncio.Future[bool]] = {}  # stream -> the lookup in flight

    def _check_connected(self) -> None:
        if not self._nc.is_connected:
            raise StoreUnavailable("NATS is not connected")

    async def load(self, subject: str, *, from_seq: int = 1) -> LoadedEvents:
        """The aggregate's events from `from_seq` on, decoded and upcast, in stream order;
        at least all that the stream's leader held when the call began."""
        self._check_connected()
        stream, _ = split_subject(subject)
        stored = self._layout.stored(stream, subject)
        if await self._replicated(stream):
            newest, messages = await asyncio.gather(
                self._newest(subject), self._read(stream, stored, from_seq)
            )
            messages = await self._catch_up(stream, stored, messages, from_seq, newest)
        else:
            messages = await self._read(stream, stored, from_seq)
        return self._decode(stream, subject, messages)

    async def _read(self, stream: str, subject: str, from_seq: int) -> list[StoredMessage]:
        try:
            return await self._reader.read_subject(
                stream, subject, from_seq=from_seq, timeout=self._timeout
            )
        except (TimeoutError, DirectGetError, *_UNAVAILABLE) as error:
            raise StoreUnavailable(f"reading {subject}: {error!r}") from error

    async def _newest(self, subject: str) -> int:
        last = await self.last_message(subject)  # answered by the stream's leader
        return last.seq if last is not None else 0

    async def _catch_up(
        self,
        stream: str,
        subject: str,
        messages: list[StoredMessage],
        from_seq: int,
        newest: int,
    ) -> list[StoredMessage]:
        """Direct gets are served by any replica (the client's own server first), and a
        follower may lag the leader: by a moment, or for seconds while it catches up after
        an election. What the read lacks up to `newest` comes from the leader itself, one
        message a request (a lag is a few events). Decisions that append nothing (a
        refusal, a no-op) rest on this; the expected sequence only protects appends."""
        held = list(messages)
        seen = held[-1].seq if held else from_seq - 1
        while seen < newest:
            try:
                raw = await self._js.get_msg(stream, seq=seen + 1, subject=subject, next=True)
            except NotFoundError:
                break
            except _LOOKUP_FAILED as error:
                raise StoreUnavailable(f"reading {subject}: {error!r}") from error
            seq = int(raw.seq or 0)
            if seq <= seen:
                break
            headers = {str(k): str(v) for k, v in (raw.headers or {}).items()}
            held.append(StoredMessage(seq, raw.subject or subject, raw.data or b"", headers))
            seen = seq
        return held

    async def _replicated(self, stream: str) -> bool:
        """Whether the stream has followers that may serve a stale read (looked up again
        every REPLICAS_TTL seconds: `tally migrate` may change the replicas). One lookup at
        a time per stream, whoever asks meanwhile waits for it."""
        known = self._replicas.get(stream)
        if known is not None and time.monotonic() < known[1]:
            return known[0]
        lookup = self._lookups.get(stream)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up_replicas(stream, known))
            self._lookups[stream] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(stream, None))
        return await asyncio.shield(lookup)

    async def _look_up_replicas(self, stream: str, known: tuple[bool, float] | None) -> bool:
        """An unanswered lookup keeps what was known (else: check against the leader, to be
        safe) and is asked again LOOKUP_RETRY seconds later, not on every read: a lookup is
        a JetStream API request, and an overloaded server that failed them, asked again on
        every read together with the leader check a failure implies, stayed overloaded (a
        soak of `tally up` stopped answering for minutes; found by the soak)."""
        try:
            info = await self._js.stream_info(stream)
        except (NotFoundError, *_LOOKUP_FAILED):
            replicated = known[0] if known is not None else True
            self._replicas[stream] = (replicated, time.monotonic() + LOOKUP_RETRY)
            return replicated
        replicated = (info.config.num_replicas or 1) > 1
        self._replicas[stream] = (replicated, time.monotonic() + REPLICAS_TTL)
        return replicated

    def _decode(self, stream: str, subject: str, messages: list[StoredMessage]) -> LoadedEvents:
        events: list[RecordedEvent] = []
        for message in messages:
            try:
                events.append(
                    decode_marked(  # what this build wrote is not validated again
                        message.data,
                        message.headers,
                        stream=stream,
                        seq=message.seq,
                        subject=subject,
                    )
                )
            except DecodeError as error:
                if error.reason == "unknown-schema-version":
                    raise StoreUnavailable(f"{subject} holds {error}; upgrade Tally") from error
                log.warning(
                    "skipping a message that is not a Tally event",
                    extra={"subject": subject, "seq": message.seq, "reason": str(error)},
                )
        last_seq = messages[-1].seq if messages else 0
        return LoadedEvents(events=events, last_seq=last_seq)

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        """Appends `events` to `subject` only if its last sequence is still `expected_seq`.

        Several events go as one atomic batch: all are stored or none. The frames go out
        through the lean wire (`jetstream_wire.py`): many appends in flight on the one
        connection, flushed together, answered on one reply inbox.
        """
        check_batch(events)
        self._check_connected()
        stream, _ = split_subject(subject)
        try:
            if not self._wire.started:
                await self._wire.start()
            if len(events) == 1:  # the header block written in one go
                payload = encode_data(events[0].event)
                block = single_block(events[0], payload, expected_seq)
                reply = await self._wire.request(subject, block, payload, timeout=self._timeout)
                ack = read_ack(reply)  # as atomic_batch.append_one, one coroutine less
                return AppendResult(stream, ack.seq, ack.seq, duplicate=ack.duplicate)
            encoded = [encode(item.event, item.envelope) for item in events]
            expect = {EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected_seq)}
            ack = await append_batch(
                self._wire, subject, encoded, first_headers=expect, timeout=self._timeout
            )
            return AppendResult(stream, ack.seq - len(encoded) + 1, ack.seq)
        except APIError as error:
            if error.err_code in CONFLICT_CODES or error.err_code == DUPLICATE_IN_BATCH:
                return await self._resolve(stream, subject, events, expected_seq, error)
            if error.code == 503:
                raise StoreUnavailable(f"JetStream unavailable: {error}") from error
            raise
        except (TimeoutError, nats.errors.TimeoutError) as error:
            return await self._resolve(stream, subject, events, expected_seq, error)
        except _UNAVAILABLE as error:
            raise StoreUnavailable(f"appending to {subject}: {error!r}") from error

    async def _resolve(
        self,
        stream: str,
        subject: str,
        events: Sequence[PendingEvent],
        expected_seq: int,
        error: Exception,
    ) -> AppendResult:
        """After a conflict or a timeout: were our events stored after all (a retry that
        raced with its own first attempt), or did someone else write first? A 10071 names
        the subject's last sequence: what was stored after the expectation is read (a
        direct get) and travels with the conflict, so the caller folds it instead of
        reading it again; otherwise the subject's last message is looked up."""
        ours = events[-1].envelope.event_id_text
        try:
            actual = _named_last_sequence(error)
            if actual is not None and actual > expected_seq:
                newer = await self._read_after(stream, subject, expected_seq + 1, actual)
                if newer:
                    last = newer[-1]
                    if last.headers.get(MSG_ID) == ours:  # ours: stored by an earlier try
                        first = last.seq - len(events) + 1
                        return AppendResult(stream, first, last.seq, duplicate=True)
                    loaded = self._decode(stream, subject, newer)
                    raise ConcurrencyConflict(
                        subject, expected_seq, last.seq, newer=loaded
                    ) from error
            found = await self.last_message(subject) if actual != 0 else None
        except StoreUnavailable as lookup:
            raise StoreUnavailable(f"appending to {subject}: {error!r}") from lookup
        if found is not None and found.event_id == ours:
            # stored, but maybe by an earlier try or a twin: nothing new from this call
            return AppendResult(stream, found.seq - len(events) + 1, found.seq, duplicate=True)
        if isinstance(error, APIError):
            actual = found.seq if found is not None else 0
            raise ConcurrencyConflict(subject, expected_seq, actual) from error
        raise StoreUnavailable(f"appending to {subject} timed out") from error

    async def _read_after(
        self, stream: str, subject: str, from_seq: int, actual: int
    ) -> list[StoredMessage]:
        """The subject's messages from `from_seq` on, at least up to `actual` (what a
        lagging replica lacks comes from the leader); [] when they could not be had."""
        stored = self._layout.stored(stream, subject)
        messages = await self._read(stream, stored, from_seq)
        if not messages or messages[-1].seq < actual:
            messages = await self._catch_up(stream, stored, messages, from_seq, actual)
        return messages if messages and messages[-1].seq >= actual else []

    async def last_message(self, subject: str) -> LastMessage | None:
        """Answered by the stream's leader: a direct get of the subject's last message when
        the stream has no followers (one frame on the shared wire), else nats-py's message
        get, which the leader answers (a follower's direct get may lag it)."""
        self._check_connected()
        stream, _ = split_subject(subject)
        stored = self._layout.stored(stream, subject)
        if not await self._replicated(stream):
            return await self._last_direct(stream, subject, stored)
        try:
            message = await self._js.get_last_msg(stream, stored)
        except NotFoundError:
            return None
        except _LOOKUP_FAILED as error:
            raise StoreUnavailable(f"reading the last message of {subject}: {error!r}") from error
        event_id = message.headers.get(MSG_ID) if message.headers else None
        return LastMessage(int(message.seq or 0), event_id)

    async def _last_direct(self, stream: str, subject: str, stored: str) -> LastMessage | None:
        try:
            message = await self._reader.last_message(stream, stored, timeout=self._timeout)
        except (TimeoutError, DirectGetError, *_UNAVAILABLE) as error:
            raise StoreUnavailable(f"reading the last message of {subject}: {error!r}") from error
        if message is None:
            return None
        return LastMessage(message.seq, message.headers.get(MSG_ID))


def single_block(pending: PendingEvent, payload: bytes, expected_seq: int) -> bytes:
    """The header block of a one-event append: the event's headers and the expected
    sequence, byte for byte what `header_block` makes of them as a dict, in one go."""
    lines = encode_header_lines(pending.event, pending.envelope, payload)
    return f"NATS/1.0\r\n{lines}{_EXPECTED_LINE}{expected_seq}\r\n\r\n".encode()


_WRONG_LAST = re.compile(r"wrong last sequence: (\d+)")


def _named_last_sequence(error: Exception) -> int | None:
    """The subject's last sequence a 10071 names (`wrong last sequence: N`), else None
    (a 10164 names none, nor does a timeout)."""
    if not isinstance(error, APIError) or error.err_code != 10071:
        return None
    found = _WRONG_LAST.search(error.description or "")
    return int(found.group(1)) if found else None
