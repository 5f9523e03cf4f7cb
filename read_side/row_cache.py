"""The query routes' in-process cache of view answers: a hot GET is answered without
PostgreSQL, from what an earlier GET of the same row (or page) read.

What makes a cached answer safe to serve:
- It is dropped when its view changes. The projectors NOTIFY `name:stream:seq` in the
  transaction that commits a batch, and so do a replay's swap and a dead letter's retry or
  drop (`projections.batch.notify_listeners`); any notification of a checkpoint row drops
  every answer read from that row (one partition of a view, or the whole view), and every
  cached page of the view. A notification is never trusted to say what the view holds
  (`positions.py`): here it can only drop answers, so a forged one costs a read.
- An answer is kept only if no notification of its row arrived while it was being read
  (a `Ticket` taken before the read): an answer read from a snapshot older than a commit
  is either dropped by that commit's notification or never kept.
- It is served only while the LISTEN connection is up. Losing it clears the cache, and
  answers read while it was down, or before, are never kept: a change committed meanwhile
  has no notification to drop it.
- `after=POSITION` is served from the cache only by an answer read once the process
  knew the position applied (`Entry.position`, the checkpoint known before the read): a
  snapshot taken after that holds the position, so the answer is never older than it.

Between a commit and its notification's arrival (a few ms), a plain GET may still be
answered with the row as it was before the commit, as a replica a moment behind would;
`after=` is exact. Bounded by `entries` (a page counts the rows it may hold); the oldest insertion
goes first. 0 turns the cache off.
"""

from collections.abc import Hashable
from typing import Any, NamedTuple

PAGES = "/*"  # the cache name of a view's pages: `orders/*` (the rows of each partition)


class Ticket(NamedTuple):
    """What was true when a read began: its row's generation and the listening epoch."""

    name: str
    generation: int
    epoch: int
    position: int


class Entry(NamedTuple):
    value: Any
    position: int  # the checkpoint known applied before it was read
    generation: int
    epoch: int
    size: int


def pages_of(view: str) -> str:
    """The cache name under which the pages of `view` are kept."""
    return f"{view}{PAGES}"


def view_of(name: str) -> str:
    """The view whose checkpoint row `name` is (`orders/2` -> `orders`)."""
    return name.partition("/")[0]


class RowCache:
    def __init__(self, entries: int) -> None:
        self._room = entries
        self._entries: dict[tuple[str, Hashable], Entry] = {}
        self._held = 0  # the sizes of what `_entries` holds
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._on = False  # only while notifications are being received

    @property
    def on(self) -> bool:
        return self._on

    def get(self, name: str, key: Hashable, at_least: int = 0) -> Any:
        """The cached answer of `key` read from checkpoint row `name` at or past position
        `at_least`, or None."""
        if not self._on:
            return None
        entry = self._entries.get((name, key))
        if (
            entry is None
            or entry.position < at_least
            or entry.epoch != self._epoch
            or entry.generation != self._generations.get(name, 0)
        ):
            return None
        return entry.value

    def ticket(self, name: str, position: int) -> Ticket | None:
        """Taken before a read whose answer may be kept (None: the cache is off)."""
        if not self._on:
            return None
        return Ticket(name, self._generations.get(name, 0), self._epoch, position)

    def put(self, ticket: Ticket | None, key: Hashable, value: Any, size: int = 1) -> None:
        """Keep `value` unless the row changed (or notifications stopped) since `ticket`."""
        if (
            ticket is None
            or value is None
            or size > self._room
            or ticket.epoch != self._epoch
            or ticket.generation != self._generations.get(ticket.name, 0)
        ):
            return
        slot = (ticket.name, key)
        old = self._entries.pop(slot, None)
        if old is not None:
            self._held -= old.size
        while self._entries and self._held + size > self._room:
            oldest = next(iter(self._entries))
            self._held -= self._entries.pop(oldest).size
        self._entries[slot] = Entry(value, ticket.position, ticket.generation, ticket.epoch, size)
        self._held += size

    def changed(self, name: str) -> None:
        """A notification of checkpoint row `name`: its answers and its view's pages go
        (left in place, never served again; the next insertions push them out)."""
        generations = self._generations
        generations[name] = generations.get(name, 0) + 1
        pages = pages_of(view_of(name))
        generations[pages] = generations.get(pages, 0) + 1

    def listening(self, on: bool) -> None:
        """Notifications started (`on`) or stopped arriving: either way, nothing read
        before may be kept or served."""
        self._on = on and self._room > 0
        self._epoch += 1
        self._entries.clear()
        self._held = 0

    def __len__(self) -> int:
        return len(self._entries)
