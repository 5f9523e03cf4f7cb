"""Load -> fold -> decide -> append with the expected sequence; on conflict, again.

Folded states are cached per subject (`state_cache.py`: bounded by weight, a state counts
1 plus a share of its reservations, see `Aggregate.weight`), so a command reads only the
events appended since the cached sequence. Streams are append-only, and the
expected-sequence check catches a stale cache, so the cache can never make a decision on
old state stick. An aggregate created with `new=True` (an order the API just placed) is
not kept: another process (fulfilment) decides on it next, and thousands of them would
push out the states that are used again.
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast
from uuid import NAMESPACE_URL, UUID, uuid5

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from events.base import Event
from events.codec import RecordedEvent
from events.envelope import Envelope
from events.ids import NameIds
from events.subjects import Position, split_subject
from write_side.aggregates import Aggregate
from write_side.errors import (
    AggregateNotFound,
    ConcurrencyConflict,
    RuleViolation,
    WriteSideError,
)
from write_side.observer import CommandObserver, NoObserver
from write_side.ports import EventStore, PendingEvent
from write_side.snapshots import Snapshots
from write_side.state_cache import StateCache
from write_side.subject_turns import SubjectTurns

log = logging.getLogger(__name__)
S = TypeVar("S")
C = TypeVar("C")
EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://tally.example/events")
_event_ids = NameIds(EVENT_ID_NAMESPACE)  # uuid5 in that namespace, in half its time
# The cache's bound in states (all aggregates together; a stock item's reservations count
# an eighth of a state each, see `Aggregate.weight`); production's is the setting
# `command_cache_entries`.
CACHE_SIZE = 50_000


def deterministic_event_id(key: str, subject: str, event_type: str, index: int) -> UUID:
    """The same key yields the same ids for the same events on the same subject, so a
    repeated step is deduplicated. The subject and the event type are part of the id
    because JetStream drops a known id anywhere in the stream: a client's Idempotency-Key
    reused for another SKU or another command must not pass for a duplicate (which would
    answer 202 with nothing stored)."""
    return _event_ids(f"{key}#{subject}#{event_type}#{index}")


# The objects made on every command are plain slotted dataclasses (never changed after
# they are made, by convention): a frozen one sets each field through
# object.__setattr__, ~0.6 µs more an object.
@dataclass(slots=True)
class Metadata:
    correlation_id: str
    causation_id: str | None = None
    idempotency_key: str | None = None  # makes the event ids deterministic


@dataclass(slots=True)
class CommandResult(Generic[S]):
    position: Position
    events: list[Event]
    state: S


LogLine = Callable[[str, Mapping[str, Any]], None]
"""Writes one info line (event, fields) of this module's logger."""


def _log_info(event: str, fields: Mapping[str, Any]) -> None:
    log.info(event, extra=fields)


class CommandService:
    """`max_attempts`: how many times a command is decided and appended before a conflict
    is given up (the `command_max_attempts` setting). `snapshots`: where a subject not in
    the cache starts from (its snapshot, if it has one), and what is told of every fold.
    `log_line`: how the one info line per appended command is written (default: this
    module's logger; the composition root passes a batched writer of the same line)."""

    def __init__(
        self,
        store: EventStore,
        *,
        max_attempts: int,
        cache_size: int = CACHE_SIZE,
        observer: CommandObserver | None = None,
        snapshots: Snapshots | None = None,
        log_line: LogLine | None = None,
    ) -> None:
        self._store = store
        self._snapshots = snapshots
        self._observer: CommandObserver = observer or NoObserver()
        self._log_line = log_line or _log_info
        self._max_attempts = max_attempts
        self._cache = StateCache(cache_size, self._observer)
        self._turns = SubjectTurns()  # one command at a time per subject in this process

    async def load(self, aggregate: Aggregate[S, C], aggregate_id: str) -> tuple[S, int]:
        """The aggregate's current state and the sequence of its last event (0: none)."""
        subject = aggregate.subject(aggregate_id)
        self._cache.used(subject)
        return await self._load(aggregate, aggregate_id, subject)

    async def _load(
        self, aggregate: Aggregate[S, C], aggregate_id: str, subject: str
    ) -> tuple[S, int]:
        """`load` within a command, whose use of the subject was counted once already."""
        known = self._cached(aggregate, subject)
        if known is None and self._snapshots is not None and self._snapshots.applies(aggregate):
            known = await self._snapshots.read(aggregate, subject)
        state, seen = known or (aggregate.initial(aggregate_id), 0)
        return await self._read_past(aggregate, subject, state, seen)

    async def _read_past(
        self, aggregate: Aggregate[S, C], subject: str, state: S, seen: int
    ) -> tuple[S, int]:
        """`state` (the subject's at sequence `seen`) brought up to date by reading what
        was stored after `seen`, cached and returned with the subject's last sequence."""
        loaded = await self._store.load(subject, from_seq=seen + 1)
        for recorded in loaded.events:
            state = aggregate.evolve(state, recorded.event)
        last_seq = max(seen, loaded.last_seq)
        self._cache.keep(subject, state, last_seq, aggregate.weight(state))
        if self._snapshots is not None:
            self._snapshots.folded(aggregate, subject, state, last_seq, len(loaded.events))
        return state, last_seq

    def remember_first(
        self, aggregate: Aggregate[S, C], aggregate_id: str, first: RecordedEvent
    ) -> None:
        """`first` is the first event of the aggregate (an OrderPlaced, which can only be
        appended to an empty subject), as a consumer delivered it: the state after it is
        kept unless a newer one is, so the next load reads only what was stored after it
        instead of reading and decoding it again. Nothing is decided on this alone: loads
        still read past it, and appends still expect the subject's last sequence."""
        subject = aggregate.subject(aggregate_id)
        known = self._cache.get(subject)
        if known is None or known.last_seq < first.seq:
            state = aggregate.evolve(aggregate.initial(aggregate_id), first.event)
            self._cache.keep(subject, state, first.seq, aggregate.weight(state))

    async def handle(
        self,
        aggregate: Aggregate[S, C],
        aggregate_id: str,
        command: C,
        meta: Metadata,
        *,
        new: bool = False,
    ) -> CommandResult[S]:
        """Decides `command` on the current state and appends the result, retrying on
        conflicts. Rule violations raise; a command that changes nothing appends nothing.
        `new`: the id was just made (a fresh order id), so decide on the initial state
        without reading; the append expects an empty subject, which proves it. Commands
        on one subject take turns (`subject_turns.py`): each is decided on the state the
        one before it left, so this process never conflicts with itself."""
        started = time.perf_counter()
        outcome = "unavailable"
        subject = aggregate.subject(aggregate_id)  # once: an order's parses its UUID
        turn = False
        try:
            if not self._turns.take_free(subject):  # never a conflict with this process's own
                await self._turns.take(subject)
            turn = True
            if not new:  # a use, for the cache's admission (a new id is never kept)
                self._cache.used(subject)
            # a new id is decided on its initial state, as if cached, and not cached after
            fresh = (
                (aggregate.initial(aggregate_id), 0) if new and subject not in self._cache else None
            )
            try:  # the common case: no conflict, no retry machinery
                result = await self._attempt(
                    aggregate, aggregate_id, subject, command, meta, True, fresh
                )
            except ConcurrencyConflict as first:
                result = await self._retry(aggregate, aggregate_id, subject, command, meta, first)
            if new:
                self._cache.forget(subject)
            outcome = "appended" if result.events else "unchanged"
            if result.events:
                self._log_line(
                    "command appended",
                    {
                        "command": type(command).__name__,
                        "subject": subject,
                        "position": str(result.position),
                        "events": [event.event_type for event in result.events],
                        "correlation_id": meta.correlation_id,
                        "causation_id": meta.causation_id,
                    },
                )
            return result
        except AggregateNotFound:
            outcome = "not_found"
            raise
        except ConcurrencyConflict:
            outcome = "conflict"
            raise
        except RuleViolation:
            outcome = "refused"
            raise
        finally:
            if turn:
                self._turns.give_back(subject)
            elapsed = time.perf_counter() - started
            self._observer.command_handled(type(command).__name__, outcome, elapsed)

    async def _retry(
        self,
        aggregate: Aggregate[S, C],
        aggregate_id: str,
        subject: str,
        command: C,
        meta: Metadata,
        first: ConcurrencyConflict,
    ) -> CommandResult[S]:
        """After the first attempt's conflict (`first`): decided and appended again (on a
        read) until `max_attempts` attempts in all."""
        self._observer.conflict(split_subject(subject)[0])
        if self._max_attempts <= 1:
            raise first
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(ConcurrencyConflict),
            wait=wait_random_exponential(multiplier=0.002, max=0.05),
            stop=stop_after_attempt(self._max_attempts - 1),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    return await self._attempt(
                        aggregate, aggregate_id, subject, command, meta, False
                    )
                except ConcurrencyConflict:
                    self._observer.conflict(split_subject(subject)[0])
                    raise
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        aggregate: Aggregate[S, C],
        aggregate_id: str,
        subject: str,
        command: C,
        meta: Metadata,
        trust_cache: bool,
        new: tuple[S, int] | None = None,
    ) -> CommandResult[S]:
        """`new`: the initial state of a new id (and 0), decided on as a cached state is,
        its outcome not cached (the caller forgets the subject after)."""
        cached = new or (self._cached(aggregate, subject) if trust_cache else None)
        if cached is not None:
            # Decide on the cached state without reading first: the append's expected
            # sequence proves the state current. Refusals and no-ops are never taken from
            # the cache; they are decided again on fresh state below.
            cached_state, cached_seq = cached
            try:
                events = aggregate.decide(cached_state, command)
            except WriteSideError:
                events = []
            if events:
                try:
                    return await self._append(
                        aggregate, subject, cached_state, cached_seq, events, meta, new is None
                    )
                except ConcurrencyConflict as conflict:
                    # The cache was stale: decide again on what is new, which the store
                    # read while resolving the conflict, else on a read. A refused append
                    # like any other: counted (each refused append once).
                    self._observer.conflict(split_subject(subject)[0])
                    fresh = self._catch_up(aggregate, subject, cached_state, cached_seq, conflict)
                    if fresh is not None:
                        return await self._decide_fresh(aggregate, subject, *fresh, command, meta)
        state, last_seq = await self._load(aggregate, aggregate_id, subject)
        return await self._decide_fresh(aggregate, subject, state, last_seq, command, meta)

    async def _decide_fresh(
        self,
        aggregate: Aggregate[S, C],
        subject: str,
        state: S,
        last_seq: int,
        command: C,
        meta: Metadata,
    ) -> CommandResult[S]:
        """Decides on a state as current as a load (refusals and no-ops stand). On a
        conflict, what the store read is cached, so the retry reads only what came after."""
        events = aggregate.decide(state, command)
        if not events:
            return CommandResult(Position(split_subject(subject)[0], last_seq), [], state)
        try:
            return await self._append(aggregate, subject, state, last_seq, events, meta)
        except ConcurrencyConflict as conflict:
            self._catch_up(aggregate, subject, state, last_seq, conflict)
            raise

    async def _append(
        self,
        aggregate: Aggregate[S, C],
        subject: str,
        state: S,
        last_seq: int,
        events: list[Event],
        meta: Metadata,
        keep: bool = True,
    ) -> CommandResult[S]:
        """`keep`: the state after the events is cached (not for a new id's first)."""
        pending = [
            PendingEvent(event, self._envelope(meta, subject, event, index))
            for index, event in enumerate(events)
        ]
        result = await self._store.append(subject, pending, last_seq)
        if result.duplicate or result.first_seq <= last_seq:
            # Nothing was written: these event ids were stored before (a step repeated by a
            # redelivery or a twin, perhaps after later events). The state this was decided
            # on may be older than what is stored, so it is neither cached nor returned as
            # it is: what was stored after `last_seq` (the sequence that state is at, its
            # events not applied) is read and folded in, not the whole subject again.
            state, _ = await self._read_past(aggregate, subject, state, last_seq)
            return CommandResult(result.position, events, state)
        self._observer.events_appended(result.stream, len(events))
        for event in events:
            state = aggregate.evolve(state, event)
        if keep:
            self._cache.keep(subject, state, result.last_seq, aggregate.weight(state))
        if self._snapshots is not None:
            self._snapshots.folded(aggregate, subject, state, result.last_seq, len(events))
        return CommandResult(result.position, events, state)

    def _catch_up(
        self,
        aggregate: Aggregate[S, C],
        subject: str,
        state: S,
        last_seq: int,
        conflict: ConcurrencyConflict,
    ) -> tuple[S, int] | None:
        """`state` (at `last_seq`) with the events the conflict carries folded in (stored
        after `last_seq`, up to the subject's last at the conflict: as current as a load),
        cached and returned; None when the conflict carries none (then: a load)."""
        newer = conflict.newer
        if newer is None or conflict.expected != last_seq:
            return None
        for recorded in newer.events:
            state = aggregate.evolve(state, recorded.event)
        self._cache.keep(subject, state, newer.last_seq, aggregate.weight(state))
        if self._snapshots is not None:
            self._snapshots.folded(aggregate, subject, state, newer.last_seq, len(newer.events))
        return state, newer.last_seq

    @staticmethod
    def _envelope(meta: Metadata, subject: str, event: Event, index: int) -> Envelope:
        if meta.idempotency_key is not None:
            key = meta.idempotency_key
            return Envelope(
                deterministic_event_id(key, subject, event.event_type, index),
                meta.correlation_id,
                meta.causation_id or meta.correlation_id,
            )
        # a random id: the envelope makes it as the text its header carries
        return Envelope(None, meta.correlation_id, meta.causation_id or meta.correlation_id)

    def _cached(self, aggregate: Aggregate[S, C], subject: str) -> tuple[S, int] | None:
        """The state cached for `subject` and its sequence. A subject names one aggregate,
        so what is kept under it is that aggregate's state S (the cast says no more)."""
        folded = self._cache.get(subject)
        return None if folded is None else (cast(S, folded.state), folded.last_seq)
