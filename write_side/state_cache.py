"""The command service's cache of folded states, one per subject, bounded by weight.

A state counts its `weight` against the bound (1, plus a share of whatever grows with its
aggregate's history: see `Aggregate.weight`). When the states kept outweigh the bound, the
least recently kept go. Each such eviction is reported to the observer, with whether the
state had been kept less than `RECENT_EVICTION` seconds before: evictions that recent mean
the states in use outweigh the bound (the cache thrashes).

What is kept is a hint, never the truth: the command service brings a cached state up to
date before a refusal stands, and its appends expect the cached sequence, so a stale entry
costs a conflict, never a wrong decision.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from write_side.observer import CommandObserver

RECENT_EVICTION = 60.0  # an eviction of a state kept this recently is reported as recent


@dataclass(slots=True)
class CachedState:
    """A folded state (of whichever aggregate its subject names), its last sequence and
    what it counts against the bound."""

    state: object
    last_seq: int
    weight: int = 1
    kept_at: float = 0.0  # time.monotonic() when it was kept


class StateCache:
    """`bound`: the total weight kept (the setting `command_cache_entries`); `clock`: the
    seconds an eviction's recency is measured in."""

    def __init__(
        self,
        bound: int,
        observer: CommandObserver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bound = bound
        self._observer = observer
        self._clock = clock
        self._entries: OrderedDict[str, CachedState] = OrderedDict()
        self._weight = 0

    def __contains__(self, subject: str) -> bool:
        return subject in self._entries

    def get(self, subject: str) -> CachedState | None:
        return self._entries.get(subject)

    @property
    def weight(self) -> int:
        """The total weight kept (never above the bound after a `keep`)."""
        return self._weight

    def keep(self, subject: str, state: object, last_seq: int, weight: int) -> None:
        """`state` (current as of `last_seq`) kept for `subject`, replacing what was; then
        the least recently kept go until the total weight fits the bound."""
        self.forget(subject)
        now = self._clock()
        self._entries[subject] = CachedState(state, last_seq, weight, now)
        self._weight += weight
        while self._weight > self._bound and self._entries:
            _, oldest = self._entries.popitem(last=False)
            self._weight -= oldest.weight
            # kept in the order they were kept: one kept less than a minute ago going
            # means the states in use outweigh the bound (the cache thrashes)
            self._observer.cache_evicted(now - oldest.kept_at < RECENT_EVICTION)

    def forget(self, subject: str) -> None:
        dropped = self._entries.pop(subject, None)
        if dropped is not None:
            self._weight -= dropped.weight
