"""Random command sequences never break the invariants of SPEC §1."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from events.orders import OrderLine
from write_side.domain import order, stock
from write_side.errors import WriteSideError

ORDER_IDS = st.sampled_from(["o1", "o2", "o3", "o4"])
stock_commands = st.one_of(
    st.builds(stock.ReceiveStock, st.integers(1, 20)),
    st.builds(
        stock.AdjustStock,
        st.integers(-20, 20).filter(lambda delta: delta != 0),
        st.just("count"),
    ),
    st.builds(stock.ReserveStock, ORDER_IDS, st.integers(1, 10)),
    st.builds(stock.ReleaseReservation, ORDER_IDS),
    st.builds(stock.ShipReserved, ORDER_IDS),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(stock_commands, max_size=60))
def test_reserved_stays_between_zero_and_on_hand(commands: list[stock.StockCommand]) -> None:
    state = stock.initial("SKU-1")
    for command in commands:
        try:
            events = stock.decide(state, command)
        except WriteSideError:
            continue
        for event in events:
            state = stock.evolve(state, event)
            assert 0 <= state.reserved <= state.on_hand
            assert all(quantity > 0 for quantity in state.reservations.values())


LINE = OrderLine(sku="A", quantity=1, unit_price=Decimal("1.00"))
order_commands = st.one_of(
    st.just(order.PlaceOrder("c1", "EUR", (LINE,))),
    st.builds(order.ConfirmOrder, st.just("auth")),
    st.builds(
        order.RejectOrder,
        st.sampled_from(["out_of_stock", "payment_declined", "payment_unavailable"]),
    ),
    st.builds(order.CancelOrder, st.text(max_size=5)),
    st.just(order.ShipOrder()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(order_commands, max_size=30))
def test_no_command_is_accepted_on_a_final_order(commands: list[order.OrderCommand]) -> None:
    state = order.initial("o1")
    for command in commands:
        was_final = state.status in order.FINAL
        try:
            events = order.decide(state, command)
        except WriteSideError:
            continue
        if was_final:
            assert events == [], f"{command} changed a {state.status} order"
        for event in events:
            state = order.evolve(state, event)
