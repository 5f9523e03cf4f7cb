"""The ports: exactly what the command service, idempotency and fulfilment need from storage.

Two adapters implement them with the same semantics, proven by one contract suite
(`tests/contract/`): JetStream (`event_store.py`, `key_value.py`) in production and an
in-memory one (`in_memory.py`) for fast unit tests. Callers depend on these protocols only,
so the JetStream publish path can be rewritten behind them without touching a caller.

Event-store semantics (JetStream's, as verified on nats-server 2.15):
- an aggregate is one subject; a stream holds many subjects and numbers their messages
  with one global sequence;
- `append` stores only if the subject's last sequence is still `expected_seq` (0: empty),
  else raises `ConcurrencyConflict`; several events go as one atomic batch, all or none;
- an event id (Nats-Msg-Id) already stored in the stream within its duplicate window is
  not stored again: the append returns the sequence stored first, marked `duplicate`;
  that sequence may be *after* the expectation (a replicated stream answers a known id
  before it checks the expected sequence), so a duplicate says nothing about the state
  the append was decided on;
- `load` is current: it holds at least every event the subject had when the call began,
  even when a replica that lags the stream's leader serves the read;
- an append whose outcome is unknown (a timeout, a retry racing with its own first try,
  a stale expectation) is settled by the subject's last message id: ours means stored.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from events.base import Event
from events.codec import RecordedEvent
from events.envelope import Envelope
from events.subjects import Position


@dataclass(slots=True)
class PendingEvent:
    """An event to append with the envelope it will carry (its id is the dedupe key).
    Made on every append, so a plain slotted dataclass (never changed after it is made):
    a frozen one sets each field through object.__setattr__, ~0.6 µs more."""

    event: Event
    envelope: Envelope


@dataclass(slots=True)
class AppendResult:
    """Where an append landed. `duplicate`: nothing new was stored, the events were there
    already (stored first at these sequences). Slotted, not frozen, as PendingEvent."""

    stream: str
    first_seq: int
    last_seq: int
    duplicate: bool = False

    @property
    def position(self) -> Position:
        return Position(self.stream, self.last_seq)


@dataclass(frozen=True)
class LoadedEvents:
    events: list[RecordedEvent]
    last_seq: int  # the subject's last stream sequence seen (0: nothing from from_seq on)


@dataclass(frozen=True)
class LastMessage:
    """The newest message of a subject: its stream sequence and its event id (Msg-Id)."""

    seq: int
    event_id: str | None


class EventStore(Protocol):
    async def load(self, subject: str, *, from_seq: int = 1) -> LoadedEvents:
        """The subject's events from `from_seq` on, decoded and upcast, in stream order;
        at least all it had when the call began. Raises StoreUnavailable."""
        ...

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        """Appends `events` (1..1000, one atomic batch) only if the subject's last sequence
        is `expected_seq`. Raises ConcurrencyConflict or StoreUnavailable."""
        ...

    async def last_message(self, subject: str) -> LastMessage | None:
        """The subject's newest message, None when it has none. Raises StoreUnavailable."""
        ...


@dataclass(frozen=True)
class KeyValueEntry:
    value: bytes
    revision: int


class KeyValueBucket(Protocol):
    """A bucket of keys with one live value each (history 1) and an optional TTL after which
    a value is gone. Revisions grow with every write (a delete counts as one) in the whole
    bucket. Raises StoreUnavailable when the bucket cannot be reached."""

    async def create(self, key: str, value: bytes) -> int:
        """Stores `value` only if `key` holds none (never set, deleted or expired); only one
        of several racing writers wins. Raises WrongRevision otherwise."""
        ...

    async def update(self, key: str, value: bytes, *, revision: int) -> int:
        """Stores `value` only if the key's live value has `revision`; raises WrongRevision."""
        ...

    async def put(self, key: str, value: bytes) -> int:
        """Stores `value` whatever the key holds; returns its revision."""
        ...

    async def get(self, key: str) -> KeyValueEntry | None:
        """The key's live value, None if it has none."""
        ...

    async def delete(self, key: str) -> None:
        """Removes the key's value (nothing happens if there is none)."""
        ...


MAX_BATCH = 1000  # JetStream's limit on one atomic batch (ADR-50)


def check_batch(events: Sequence[PendingEvent]) -> None:
    """The size rule every adapter applies before touching storage."""
    if not 1 <= len(events) <= MAX_BATCH:
        raise ValueError(f"an append holds 1..{MAX_BATCH} events, not {len(events)}")


_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")


def check_key(key: str) -> None:
    """The key rule of JetStream key-value buckets, applied by every adapter."""
    if not _KEY.fullmatch(key) or key.startswith(".") or key.endswith("."):
        raise ValueError(f"not a valid key: {key!r}")
