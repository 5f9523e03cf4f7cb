"""A replay's tally: the position past what it took, and each checkpoint row's audit
counters (applied, dead, ignored: the other partitions' events) from what it folded."""

from projections.batch import Counted
from projections.messages import StoredMessage
from projections.orders import OrdersProjection
from projections.partitions import ViewPartition
from projections.replay_tally import ShadowTally


def message(seq: int, subject: str) -> StoredMessage:
    return StoredMessage("ORDERS", seq, subject, b"{}", {})


def test_fresh_moves_past_what_was_taken_and_drops_what_came_again() -> None:
    tally = ShadowTally(partitioned=False)
    assert [m.seq for m in tally.fresh([message(1, "orders.a"), message(2, "orders.b")])] == [1, 2]
    assert [m.seq for m in tally.fresh([message(2, "orders.b"), message(3, "orders.a")])] == [3]
    assert tally.fresh([message(1, "orders.a")]) == [] and tally.position == 3


def test_each_partition_row_counts_its_own_and_ignores_the_others() -> None:
    tally = ShadowTally(partitioned=True)
    taken = [message(seq, f"orders.{seq % 2}.x{seq}") for seq in range(1, 8)]
    tally.record(taken, dead={3, 4})
    view = OrdersProjection()
    first, second = ViewPartition(view, 0, 2), ViewPartition(view, 1, 2)
    assert tally.counted(first) == Counted(applied=2, dead=1, ignored=4)  # 2, 6 / 4
    assert tally.counted(second) == Counted(applied=3, dead=1, ignored=3)  # 1, 5, 7 / 3
    assert (tally.events, tally.skipped) == (7, 2)


def test_a_whole_view_counts_everything_and_a_copy_is_kept_apart() -> None:
    tally = ShadowTally(partitioned=False)
    tally.record([message(1, "orders.a"), message(2, "orders.b")], dead={2})
    kept = tally.copy()
    tally.record([message(3, "orders.a")], dead=())
    assert tally.counted(OrdersProjection()) == Counted(applied=2, dead=1, ignored=0)
    assert kept.counted(OrdersProjection()) == Counted(applied=1, dead=1, ignored=0)
