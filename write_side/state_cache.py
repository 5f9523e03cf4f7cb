"""The command service's cache of folded states, one per subject, bounded by weight.

A state counts its `weight` against the bound (1, plus a share of whatever grows with its
aggregate's history: see `Aggregate.weight`). The policy is W-TinyLFU's (Einziger,
Eytan, Friedman and Manes, 2017; Caffeine's), weighted:
- a state kept for a subject not cached enters a small *window* (least recently kept out
  first), where the orders and payments in flight live their short lives; one heavier
  than a quarter of the window (a stock item with thousands of reservations) would push
  them all out, and is a candidate at once;
- what leaves the window is a *candidate* for the *main* part; it gets in if there is room,
  else only by beating every one of main's least recently kept states it would displace
  on how often their subjects were used lately (`use_counts.py`): a tie keeps the one
  already in, and a refused candidate displaces none;
- a state kept again for a subject in main stays there; when it grew, main's least
  recently kept go until it fits.

Plain LRU fell off a cliff once the states in use outweighed the bound (100 hot stock
items accessed in turn: each evicted the one needed next, and every command reloaded).
Here the states that fit stay, the others are refused admission, and the share of
commands that reload is the share of the weight in use that does not fit.

Every state dropped, from either part or refused admission, is reported to the observer
with whether it had been kept less than `RECENT_EVICTION` seconds before: evictions that
recent mean the states in use outweigh the bound.

What is kept is a hint, never the truth: the command service brings a cached state up to
date before a refusal stands, and its appends expect the cached sequence, so a stale entry
costs a conflict, never a wrong decision.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from write_side.observer import CommandObserver
from write_side.use_counts import UseCounts

RECENT_EVICTION = 60.0  # an eviction of a state kept this recently is reported as recent
WINDOW_SHARE = 0.01  # of the bound: the window's weight (Caffeine's default)
# but at least this: the work in flight, an order's and a payment's state for each of
# fulfilment's orders in hand (TALLY_FULFIL_CONCURRENCY, 256 since session 11)
WINDOW_LEAST = 1024


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
    seconds an eviction's recency is measured in. `used(subject)` is to be told once per
    command (or load) on a subject, hit or miss: admission goes by those counts."""

    def __init__(
        self,
        bound: int,
        observer: CommandObserver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._observer = observer
        self._clock = clock
        self._window_bound = min(bound // 2, max(int(bound * WINDOW_SHARE), WINDOW_LEAST))
        self._main_bound = bound - self._window_bound
        self._window: OrderedDict[str, CachedState] = OrderedDict()
        self._main: OrderedDict[str, CachedState] = OrderedDict()
        self._window_weight = 0
        self._main_weight = 0
        self._uses = UseCounts(max(bound, 1))

    def __contains__(self, subject: str) -> bool:
        return subject in self._window or subject in self._main

    def get(self, subject: str) -> CachedState | None:
        return self._window.get(subject) or self._main.get(subject)

    def used(self, subject: str) -> None:
        """One use of `subject` (a command or a load), whether its state is cached or not."""
        self._uses.add(subject)

    @property
    def weight(self) -> int:
        """The total weight kept (never above the bound after a `keep`)."""
        return self._window_weight + self._main_weight

    def keep(self, subject: str, state: object, last_seq: int, weight: int) -> None:
        """`state` (current as of `last_seq`) kept for `subject`, replacing what was; then
        what no longer fits goes (this state too, if it is refused admission)."""
        now = self._clock()
        entry = CachedState(state, last_seq, weight, now)
        held = self._main.pop(subject, None)
        if held is not None:
            self._main_weight += weight - held.weight
            self._main[subject] = entry
            self._shrink_main(now)
            return
        held = self._window.pop(subject, None)
        if held is not None:
            self._window_weight -= held.weight
        if weight > self._window_bound // 4:
            self._admit(subject, entry, now)  # it would push out the work in flight
            return
        self._window_weight += weight
        self._window[subject] = entry
        while self._window_weight > self._window_bound:
            candidate, leaving = self._window.popitem(last=False)
            self._window_weight -= leaving.weight
            self._admit(candidate, leaving, now)

    def forget(self, subject: str) -> None:
        dropped = self._window.pop(subject, None)
        if dropped is not None:
            self._window_weight -= dropped.weight
            return
        dropped = self._main.pop(subject, None)
        if dropped is not None:
            self._main_weight -= dropped.weight

    def _admit(self, subject: str, entry: CachedState, now: float) -> None:
        """`entry`, out of the window, into main if it fits or outranks what it displaces."""
        if entry.weight > self._main_bound:
            self._evicted(entry, now)
            return
        room = self._main_bound - self._main_weight
        if room < entry.weight:
            # the least recently kept it would displace, decided on before any goes: one
            # used as often or more refuses it, and the others it passed stay
            uses = self._uses.estimate(subject)
            victims: list[str] = []
            for victim_subject, victim in self._main.items():
                if uses <= self._uses.estimate(victim_subject):
                    self._evicted(entry, now)
                    return
                victims.append(victim_subject)
                room += victim.weight
                if room >= entry.weight:
                    break
            for victim_subject in victims:
                victim = self._main.pop(victim_subject)
                self._main_weight -= victim.weight
                self._evicted(victim, now)
        self._main[subject] = entry
        self._main_weight += entry.weight

    def _shrink_main(self, now: float) -> None:
        while self._main_weight > self._main_bound and self._main:
            _, oldest = self._main.popitem(last=False)
            self._main_weight -= oldest.weight
            self._evicted(oldest, now)

    def _evicted(self, entry: CachedState, now: float) -> None:
        self._observer.cache_evicted(now - entry.kept_at < RECENT_EVICTION)
