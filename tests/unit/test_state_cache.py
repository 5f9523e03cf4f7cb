"""The command service's state cache (write_side/state_cache.py) on its own: bounded by
weight, a window for what is new, admission to the rest by use, each eviction reported
with its recency."""

from support.command_doubles import RecordingObserver
from write_side.state_cache import RECENT_EVICTION, WINDOW_LEAST, StateCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def used(cache: StateCache, subject: str, times: int) -> None:
    for _ in range(times):
        cache.used(subject)


def test_a_kept_state_is_answered_with_its_sequence() -> None:
    cache = StateCache(10, RecordingObserver())

    cache.keep("stock.A", "state of A", 7, 1)

    kept = cache.get("stock.A")
    assert kept is not None and (kept.state, kept.last_seq) == ("state of A", 7)
    assert "stock.A" in cache and "stock.B" not in cache


def test_keeping_a_subject_again_replaces_it_and_its_weight() -> None:
    cache = StateCache(10, RecordingObserver())
    cache.keep("stock.A", "old", 1, 4)

    cache.keep("stock.A", "new", 2, 3)

    kept = cache.get("stock.A")
    assert kept is not None and (kept.state, kept.last_seq) == ("new", 2)
    assert cache.weight == 3


def test_a_candidate_used_more_often_displaces_the_least_recently_kept() -> None:
    observer = RecordingObserver()
    cache = StateCache(4, observer)  # a window of 2, a main part of 2
    used(cache, "stock.A", 3)
    used(cache, "stock.B", 1)
    used(cache, "stock.C", 2)
    cache.keep("stock.A", "a", 1, 2)  # heavier than a quarter of the window: to main
    cache.keep("stock.B", "b", 1, 2)  # main is full and B is used less than A: refused
    assert ("stock.A" in cache, "stock.B" in cache) == (True, False)

    cache.keep("stock.C", "c", 1, 2)  # C is used less than A too
    used(cache, "stock.C", 2)
    cache.keep("stock.C", "c", 2, 2)  # now more than A: A goes
    assert ("stock.A" in cache, "stock.C" in cache) == (False, True)
    assert cache.weight <= 4
    assert observer.evictions == [True, True, True]


def test_the_window_holds_what_is_new_until_it_is_full() -> None:
    cache = StateCache(10 * WINDOW_LEAST, RecordingObserver())
    used(cache, "stock.hot", 5)
    cache.keep("stock.hot", "hot", 1, 9 * WINDOW_LEAST)  # heavy: main, nearly full

    for n in range(WINDOW_LEAST):  # orders in flight, used once each
        cache.keep(f"order.{n}", "o", 1, 1)

    assert all(f"order.{n}" in cache for n in range(WINDOW_LEAST))
    cache.keep("order.one-more", "o", 1, 1)  # the window spills its oldest: refused
    assert "order.0" not in cache
    assert "stock.hot" in cache and "order.one-more" in cache


def test_a_state_heavier_than_the_main_part_is_not_kept() -> None:
    observer = RecordingObserver()
    cache = StateCache(8, observer)

    cache.keep("stock.A", "a", 1, 5)

    assert "stock.A" not in cache and cache.weight == 0
    assert observer.evictions == [True]


def test_a_state_that_grew_in_main_pushes_out_the_least_recently_kept() -> None:
    cache = StateCache(8, RecordingObserver())  # a window of 4, a main part of 4
    cache.keep("stock.A", "a", 1, 2)
    cache.keep("stock.B", "b", 1, 2)

    cache.keep("stock.B", "b", 2, 3)

    assert ("stock.A" in cache, "stock.B" in cache) == (False, True)
    assert cache.weight == 3


def test_a_forgotten_subject_gives_its_weight_back() -> None:
    cache = StateCache(5, RecordingObserver())
    cache.keep("stock.A", "a", 1, 4)

    cache.forget("stock.A")
    cache.forget("stock.never-kept")

    assert cache.get("stock.A") is None
    assert cache.weight == 0


def test_an_eviction_says_whether_the_state_was_kept_within_a_minute() -> None:
    observer = RecordingObserver()
    clock = Clock()
    cache = StateCache(1, observer, clock)
    cache.keep("stock.A", "a", 1, 1)
    used(cache, "stock.B", 1)
    cache.keep("stock.B", "b", 1, 1)  # B used more than A: A goes, kept just now
    assert observer.evictions == [True]

    clock.now += RECENT_EVICTION + 1
    used(cache, "stock.C", 2)
    cache.keep("stock.C", "c", 1, 1)  # B goes, kept over a minute ago
    assert observer.evictions == [True, False]


def test_a_refused_candidate_displaces_none_of_those_it_would_have_needed() -> None:
    """A candidate needing the room of two states, the first used less than it and the
    second more: it is refused, and the first stays (deciding one victim at a time had
    evicted it for nothing)."""
    observer = RecordingObserver()
    cache = StateCache(8, observer)  # a window of 4, a main part of 4
    used(cache, "stock.A", 1)
    used(cache, "stock.B", 5)
    used(cache, "stock.D", 3)
    cache.keep("stock.A", "a", 1, 2)  # heavier than a quarter of the window: to main
    cache.keep("stock.B", "b", 1, 2)  # main is full: A (oldest), B

    cache.keep("stock.D", "d", 1, 4)  # needs A's and B's room; B is used more than D

    assert ("stock.A" in cache, "stock.B" in cache, "stock.D" in cache) == (True, True, False)
    assert cache.weight == 4
    assert observer.evictions == [True]  # D's refusal only
