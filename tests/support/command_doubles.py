"""Stores and observers for unit tests of the command service: the real in-memory store,
with another writer slipped in before our appends, or with its reads counted."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from events.base import Event
from events.envelope import Envelope
from support.clock import FakeClock
from support.defaults import DUPLICATE_WINDOW
from write_side.in_memory import InMemoryEventStore
from write_side.ports import AppendResult, EventStore, LoadedEvents, PendingEvent


def memory_store() -> InMemoryEventStore:
    return InMemoryEventStore(duplicate_window=DUPLICATE_WINDOW, clock=FakeClock())


async def given(store: EventStore, subject: str, *events: Event) -> int:
    """Events another process stored on `subject`; returns the subject's last sequence."""
    last = await store.last_message(subject)
    pending = [PendingEvent(event, Envelope()) for event in events]
    return (await store.append(subject, pending, last.seq if last else 0)).last_seq


async def stored(store: EventStore, subject: str) -> list[Event]:
    return [recorded.event for recorded in (await store.load(subject)).events]


class RacedStore(InMemoryEventStore):
    """Once `race` is called: before each of the next `times` appends to `subject`, another
    writer appends the event `theirs()` makes, so the expected sequence is stale each time."""

    def __init__(self) -> None:
        super().__init__(duplicate_window=DUPLICATE_WINDOW, clock=FakeClock())
        self.subject = ""
        self.theirs: Callable[[], Event] | None = None
        self.times = 0

    def race(self, subject: str, theirs: Callable[[], Event], *, times: int) -> None:
        self.subject, self.theirs, self.times = subject, theirs, times

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        if subject == self.subject and self.times > 0 and self.theirs is not None:
            self.times -= 1
            last = await self.last_message(subject)
            theirs = [PendingEvent(self.theirs(), Envelope())]
            await super().append(subject, theirs, last.seq if last else 0)
        return await super().append(subject, events, expected_seq)


class CountingStore(InMemoryEventStore):
    """Remembers every read: (subject, from_seq)."""

    def __init__(self) -> None:
        super().__init__(duplicate_window=DUPLICATE_WINDOW, clock=FakeClock())
        self.reads: list[tuple[str, int]] = []

    async def load(self, subject: str, *, from_seq: int = 1) -> LoadedEvents:
        self.reads.append((subject, from_seq))
        return await super().load(subject, from_seq=from_seq)


@dataclass
class RecordingObserver:
    """A CommandObserver that keeps what it was told."""

    outcomes: list[tuple[str, str]] = field(default_factory=list)
    appended: list[tuple[str, int]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    evictions: list[bool] = field(default_factory=list)

    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        self.outcomes.append((command, outcome))

    def events_appended(self, stream: str, count: int) -> None:
        self.appended.append((stream, count))

    def conflict(self, stream: str) -> None:
        self.conflicts.append(stream)

    def cache_evicted(self, recent: bool) -> None:
        self.evictions.append(recent)
