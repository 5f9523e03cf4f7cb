"""The command service's state cache (write_side/state_cache.py) on its own: bounded by
weight, least recently kept out first, each eviction reported with its recency."""

from support.command_doubles import RecordingObserver
from write_side.state_cache import RECENT_EVICTION, StateCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_the_least_recently_kept_go_first_until_the_weight_fits() -> None:
    observer = RecordingObserver()
    cache = StateCache(5, observer)
    cache.keep("stock.A", "a", 1, 2)
    cache.keep("stock.B", "b", 1, 2)
    cache.keep("stock.A", "a", 2, 2)  # A is now the most recently kept

    cache.keep("stock.C", "c", 1, 3)  # 7 > 5: B goes, then 5 fits

    assert ("stock.A" in cache, "stock.B" in cache, "stock.C" in cache) == (True, False, True)
    assert cache.weight == 5
    assert observer.evictions == [True]


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
    cache.keep("stock.B", "b", 1, 1)  # A goes, kept just now
    assert observer.evictions == [True]

    clock.now += RECENT_EVICTION + 1
    cache.keep("stock.C", "c", 1, 1)  # B goes, kept over a minute ago
    assert observer.evictions == [True, False]
