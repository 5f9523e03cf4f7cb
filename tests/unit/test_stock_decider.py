"""Given events, when a command, then events (or a refusal): the StockItem aggregate."""

import pytest

from events.base import Event
from events.stock import (
    StockAdjusted,
    StockReceived,
    StockReservationReleased,
    StockReserved,
    StockShipped,
)
from write_side.domain import stock
from write_side.errors import AggregateNotFound, RuleViolation


def given(*events: Event) -> stock.StockState:
    state = stock.initial("SKU-1")
    for event in events:
        state = stock.evolve(state, event)
    return state


def test_receiving_creates_the_item() -> None:
    assert stock.decide(given(), stock.ReceiveStock(5)) == [StockReceived(quantity=5)]
    state = given(StockReceived(quantity=5))
    assert (state.exists, state.on_hand, state.reserved, state.available) == (True, 5, 0, 5)


def test_adjusting_an_unknown_sku_is_not_found() -> None:
    with pytest.raises(AggregateNotFound):
        stock.decide(given(), stock.AdjustStock(-1, "broken"))


def test_adjust_may_not_go_below_reserved() -> None:
    state = given(StockReceived(quantity=5), StockReserved(order_id="o1", quantity=3))
    assert stock.decide(state, stock.AdjustStock(-2, "count")) == [
        StockAdjusted(delta=-2, reason="count")
    ]
    with pytest.raises(RuleViolation) as refused:
        stock.decide(state, stock.AdjustStock(-3, "count"))
    assert refused.value.code == "insufficient-stock"


def test_reserve_within_availability() -> None:
    state = given(StockReceived(quantity=5))
    assert stock.decide(state, stock.ReserveStock("o1", 5)) == [
        StockReserved(order_id="o1", quantity=5)
    ]


def test_reserve_beyond_availability_is_out_of_stock() -> None:
    state = given(StockReceived(quantity=5), StockReserved(order_id="o1", quantity=4))
    with pytest.raises(stock.OutOfStock) as refused:
        stock.decide(state, stock.ReserveStock("o2", 2))
    assert (refused.value.wanted, refused.value.available) == (2, 1)


def test_reserving_twice_for_one_order_reserves_once() -> None:
    state = given(StockReceived(quantity=5), StockReserved(order_id="o1", quantity=2))
    assert stock.decide(state, stock.ReserveStock("o1", 2)) == []


def test_release_gives_back_what_the_order_holds_and_only_once() -> None:
    state = given(StockReceived(quantity=5), StockReserved(order_id="o1", quantity=2))
    released = stock.decide(state, stock.ReleaseReservation("o1"))
    assert released == [StockReservationReleased(order_id="o1", quantity=2)]
    assert (
        stock.decide(
            given(StockReceived(quantity=5), StockReserved(order_id="o1", quantity=2), *released),
            stock.ReleaseReservation("o1"),
        )
        == []
    )


def test_ship_takes_reserved_units_off_hand() -> None:
    state = given(StockReceived(quantity=5), StockReserved(order_id="o1", quantity=2))
    shipped = stock.decide(state, stock.ShipReserved("o1"))
    assert shipped == [StockShipped(order_id="o1", quantity=2)]
    after = stock.evolve(state, shipped[0])
    assert (after.on_hand, after.reserved) == (3, 0)
    assert stock.decide(after, stock.ShipReserved("o1")) == []
