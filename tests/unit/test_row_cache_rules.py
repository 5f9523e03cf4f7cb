"""The row cache's rules, without a database: what it keeps, serves and drops."""

from read_side.row_cache import RowCache, pages_of


def listening(entries: int = 10) -> RowCache:
    cache = RowCache(entries)
    cache.listening(True)
    return cache


def test_an_answer_is_served_until_its_row_is_notified() -> None:
    cache = listening()
    cache.put(cache.ticket("orders/1", 7), "a", "body")
    assert cache.get("orders/1", "a") == "body"
    cache.changed("orders/2")  # another partition
    assert cache.get("orders/1", "a") == "body"
    cache.changed("orders/1")
    assert cache.get("orders/1", "a") is None


def test_an_answer_read_across_a_notification_is_not_kept() -> None:
    cache = listening()
    ticket = cache.ticket("orders", 7)
    cache.changed("orders")  # committed while it was being read
    cache.put(ticket, "a", "old body")
    assert cache.get("orders", "a") is None


def test_after_is_served_only_by_an_answer_read_at_or_past_it() -> None:
    cache = listening()
    cache.put(cache.ticket("orders", 7), "a", "body")
    assert cache.get("orders", "a", at_least=7) == "body"
    assert cache.get("orders", "a", at_least=8) is None


def test_any_partitions_notification_drops_the_views_pages() -> None:
    cache = listening()
    cache.put(cache.ticket(pages_of("orders"), 7), ("sql", 51), ["row"], size=1)
    cache.changed("orders/3")
    assert cache.get(pages_of("orders"), ("sql", 51)) is None


def test_nothing_is_kept_or_served_without_notifications() -> None:
    cache = listening()
    cache.put(cache.ticket("stock", 1), "sku", "body")
    ticket = cache.ticket("stock", 1)
    cache.listening(False)
    assert cache.get("stock", "sku") is None and len(cache) == 0
    assert cache.ticket("stock", 1) is None
    cache.listening(True)
    cache.put(ticket, "sku", "read before the loss")
    assert cache.get("stock", "sku") is None


def test_bounded_the_oldest_insertion_goes_first() -> None:
    cache = listening(entries=3)
    for key in "abc":
        cache.put(cache.ticket("stock", 1), key, key)
    cache.put(cache.ticket(pages_of("stock"), 1), "page", ["x", "y"], size=2)
    assert [cache.get("stock", key) for key in "abc"] == [None, None, "c"]
    assert cache.get(pages_of("stock"), "page") == ["x", "y"]
    cache.put(cache.ticket("stock", 1), "huge", "z" * 9, size=4)  # more than it holds
    assert cache.get("stock", "huge") is None


def test_no_entries_no_cache() -> None:
    cache = listening(entries=0)
    cache.put(cache.ticket("orders", 1), "a", "body")
    assert not cache.on and cache.get("orders", "a") is None
