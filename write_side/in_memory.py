"""In-memory adapters of the ports, with JetStream's semantics (see `ports.py`), so that the
command service, idempotency and fulfilment can be tested in milliseconds without a server.

They are not mocks: the contract suite in `tests/contract/` runs the same tests against
them and against JetStream. Events are stored encoded (bytes and headers, as on the wire)
and decoded on load, so the codec and upcasting are exercised as in production. Every
operation yields to the event loop once, as a network round trip would, so concurrent
callers interleave between a load and an append. Time comes from `clock` (seconds), which
tests replace to expire duplicate ids and keys without sleeping.
"""

import asyncio
import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from events.codec import decode, encode
from events.envelope import MSG_ID
from events.subjects import split_subject
from write_side.errors import ConcurrencyConflict, WrongRevision
from write_side.ports import (
    AppendResult,
    KeyValueEntry,
    LastMessage,
    LoadedEvents,
    PendingEvent,
    check_batch,
    check_key,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class _Message:
    seq: int
    data: bytes
    headers: dict[str, str]


@dataclass
class _Stream:
    last_seq: int = 0
    subjects: dict[str, list[_Message]] = field(default_factory=dict)
    seqs: dict[str, list[int]] = field(default_factory=dict)  # per subject, for bisect
    # event id -> (sequence, stored at), oldest first: the duplicate window
    recent_ids: dict[str, tuple[int, float]] = field(default_factory=dict)


class InMemoryEventStore:
    """`duplicate_window`: seconds an event id is remembered (the streams' setting)."""

    def __init__(self, *, duplicate_window: float, clock: Clock = time.monotonic) -> None:
        self._window = duplicate_window
        self._clock = clock
        self._streams: dict[str, _Stream] = {}

    def _stream(self, name: str) -> _Stream:
        return self._streams.setdefault(name, _Stream())

    async def load(self, subject: str, *, from_seq: int = 1) -> LoadedEvents:
        await asyncio.sleep(0)
        name, _ = split_subject(subject)
        stream = self._stream(name)
        messages = stream.subjects.get(subject, [])
        start = bisect.bisect_left(stream.seqs.get(subject, []), from_seq)
        wanted = messages[start:]
        events = [
            decode(m.data, m.headers, stream=name, seq=m.seq, subject=subject) for m in wanted
        ]
        return LoadedEvents(events=events, last_seq=wanted[-1].seq if wanted else 0)

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        check_batch(events)
        await asyncio.sleep(0)
        name, _ = split_subject(subject)
        stream = self._stream(name)
        now = self._clock()
        self._forget_old_ids(stream, now)
        ids = [item.envelope.event_id_text for item in events]
        last = self._last(stream, subject)
        last_seq = last.seq if last else 0
        if len(events) == 1:
            if last_seq != expected_seq:  # checked before duplicates, as JetStream does
                return self._resolve(name, subject, ids, expected_seq, last)
            if ids[0] in stream.recent_ids:
                seq = stream.recent_ids[ids[0]][0]
                return AppendResult(name, seq, seq, duplicate=True)
        elif (
            len(set(ids)) < len(ids)
            or any(event_id in stream.recent_ids for event_id in ids)
            or last_seq != expected_seq
        ):  # a batch holding a known id is refused whole (10201), then resolved
            return self._resolve(name, subject, ids, expected_seq, last)
        for item, event_id in zip(events, ids, strict=True):
            stream.last_seq += 1
            data, headers = encode(item.event, item.envelope)
            stream.subjects.setdefault(subject, []).append(_Message(stream.last_seq, data, headers))
            stream.seqs.setdefault(subject, []).append(stream.last_seq)
            stream.recent_ids[event_id] = (stream.last_seq, now)
        return AppendResult(name, stream.last_seq - len(events) + 1, stream.last_seq)

    async def last_message(self, subject: str) -> LastMessage | None:
        await asyncio.sleep(0)
        name, _ = split_subject(subject)
        return self._last(self._stream(name), subject)

    @staticmethod
    def _last(stream: _Stream, subject: str) -> LastMessage | None:
        messages = stream.subjects.get(subject)
        if not messages:
            return None
        return LastMessage(messages[-1].seq, messages[-1].headers.get(MSG_ID))

    @staticmethod
    def _resolve(
        name: str, subject: str, ids: list[str], expected: int, last: LastMessage | None
    ) -> AppendResult:
        """As the JetStream adapter does: our last id at the subject's end means stored."""
        if last is not None and last.event_id == ids[-1]:
            return AppendResult(name, last.seq - len(ids) + 1, last.seq, duplicate=True)
        raise ConcurrencyConflict(subject, expected, last.seq if last else 0)

    def _forget_old_ids(self, stream: _Stream, now: float) -> None:
        recent = stream.recent_ids
        while recent:
            oldest = next(iter(recent))
            if now - recent[oldest][1] < self._window:
                return
            del recent[oldest]


@dataclass(frozen=True)
class _Value:
    value: bytes
    revision: int
    written_at: float


class InMemoryKeyValue:
    """`ttl`: seconds a value lives after its last write (None: for ever)."""

    def __init__(self, *, ttl: float | None, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._values: dict[str, _Value] = {}
        self._revision = 0

    def _live(self, key: str) -> _Value | None:
        check_key(key)
        value = self._values.get(key)
        if value is None or self._ttl is None or self._clock() - value.written_at < self._ttl:
            return value
        del self._values[key]  # expired
        return None

    def _write(self, key: str, value: bytes) -> int:
        self._revision += 1
        self._values[key] = _Value(value, self._revision, self._clock())
        return self._revision

    async def create(self, key: str, value: bytes) -> int:
        await asyncio.sleep(0)
        if self._live(key) is not None:
            raise WrongRevision(key)
        return self._write(key, value)

    async def update(self, key: str, value: bytes, *, revision: int) -> int:
        await asyncio.sleep(0)
        live = self._live(key)
        if live is None or live.revision != revision:
            raise WrongRevision(key)
        return self._write(key, value)

    async def put(self, key: str, value: bytes) -> int:
        await asyncio.sleep(0)
        check_key(key)
        return self._write(key, value)

    async def get(self, key: str) -> KeyValueEntry | None:
        await asyncio.sleep(0)
        live = self._live(key)
        return None if live is None else KeyValueEntry(live.value, live.revision)

    async def delete(self, key: str) -> None:
        await asyncio.sleep(0)
        if self._live(key) is not None:
            del self._values[key]
        self._revision += 1  # JetStream writes a delete marker, which takes a revision
