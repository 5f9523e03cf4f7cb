"""The arithmetic of `python -m chaos.state_memory` (what an open order costs in memory):
bytes held per item, and the states it measures being the ones the folds make."""

from chaos.state_memory import bytes_each, open_order, reservations


def test_bytes_each_counts_what_the_items_still_hold() -> None:
    held = bytes_each(lambda _: bytearray(1000), count=500)
    assert 1000 <= held < 1200  # the buffer and its object header


def test_a_larger_order_and_more_reservations_cost_more() -> None:
    one, three = bytes_each(open_order(1), 200), bytes_each(open_order(3), 200)
    assert one < three
    assert 0 < reservations(200) < one
