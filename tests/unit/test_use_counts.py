"""The use counts behind the state cache's admission (write_side/use_counts.py): never
fewer than the uses counted, capped, halved as time goes on."""

from write_side.use_counts import MAX_COUNT, UseCounts


def test_an_estimate_is_never_below_the_uses_counted() -> None:
    counts = UseCounts(65536)
    for n in range(200):
        for _ in range(n % 7):
            counts.add(f"stock.{n}")

    assert all(counts.estimate(f"stock.{n}") >= n % 7 for n in range(200))
    assert counts.estimate("stock.never-used") == 0  # its four counters shared: ~1e-7


def test_a_count_stops_at_its_cap() -> None:
    counts = UseCounts(64)
    for _ in range(100):
        counts.add("stock.A")

    assert counts.estimate("stock.A") == MAX_COUNT


def test_every_count_is_halved_after_ten_uses_a_counter() -> None:
    counts = UseCounts(64)  # 64 counters: halved after 640 uses
    for _ in range(12):
        counts.add("stock.A")
    assert counts.estimate("stock.A") >= 12

    for n in range(640 - 12):  # other subjects' uses, up to the period
        counts.add(f"order.{n % 300}")

    assert 6 <= counts.estimate("stock.A") < 12
