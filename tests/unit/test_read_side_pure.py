"""The pure parts of the read side: cursors, query parameters, atomic batch boundaries and
the per-batch folds of the projections."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from starlette.datastructures import QueryParams

from events.codec import RecordedEvent
from events.envelope import Envelope
from events.orders import OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced
from events.stock import StockAdjusted, StockReceived, StockReserved, StockShipped
from http_edge.problems import Problem
from projections import orders, stock
from projections.facts import Fact, from_recorded
from projections.messages import BATCH_COMMIT, BATCH_ID, StoredMessage, complete_prefix
from read_side.cursors import (
    InvalidCursor,
    _encode,
    order_cursor,
    parse_order_cursor,
    parse_stock_cursor,
    stock_cursor,
)
from read_side.http.params import OrderListQuery, ReadYourWrites, parse_query

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def recorded(subject: str, seq: int, event: object) -> Fact:
    envelope = Envelope(occurred_at=T0 + timedelta(seconds=seq))
    stream = "ORDERS" if subject.startswith("orders.") else "STOCK"
    return from_recorded(RecordedEvent(stream, seq, subject, event, envelope))  # type: ignore[arg-type]


def test_cursors_round_trip_and_reject_anything_else() -> None:
    order_id = uuid4()
    assert parse_order_cursor(order_cursor(T0, order_id)) == (T0, order_id)
    assert parse_stock_cursor(stock_cursor("sku-1")) == "sku-1"
    crafted = [
        _encode(["o", "0001-01-01T00:00:00+14:00", str(order_id)]),  # out of range in UTC
        _encode(["o", T0.isoformat(), 5]),
        _encode(["o", 5, "x"]),
        _encode([1, 2, 3]),
    ]
    for bad in ("", "!!!", "e30", stock_cursor("x"), order_cursor(T0, order_id)[:-3], *crafted):
        with pytest.raises(InvalidCursor):
            parse_order_cursor(bad)
    with pytest.raises(InvalidCursor):
        parse_stock_cursor(order_cursor(T0, order_id))


def test_query_parameters() -> None:
    query = parse_query(OrderListQuery, QueryParams("limit=7&status=pending&after=ORDERS:3"))
    assert (query.limit, query.status, str(query.position), query.wait) == (
        7,
        "pending",
        "ORDERS:3",
        5.0,
    )
    for text, field in [("limit=0", "limit"), ("wait=30.5", "wait"), ("after=X:1", "after")]:
        with pytest.raises(Problem) as caught:
            parse_query(OrderListQuery, QueryParams(text))
        assert caught.value.status == 422
        assert [error["field"] for error in caught.value.errors or []] == [field]
    assert parse_query(ReadYourWrites, QueryParams("unknown=1")).position is None


def _message(seq: int, batch: str | None = None, commit: bool = False) -> StoredMessage:
    headers = {BATCH_ID: batch} if batch else {}
    if commit:
        headers[BATCH_COMMIT] = "1"
    return StoredMessage("ORDERS", seq, "orders.x", b"", headers)


def test_an_atomic_batch_is_never_split() -> None:
    plain = [_message(1), _message(2)]
    assert complete_prefix(plain) == 2
    whole = [*plain, _message(3, "b"), _message(4, "b", commit=True), _message(5)]
    assert complete_prefix(whole) == 5
    assert complete_prefix([*plain, _message(3, "b"), _message(4, "b")]) == 2
    assert complete_prefix([_message(3, "b")]) == 0


def test_orders_fold_counts_every_event_of_an_order() -> None:
    new, old = str(uuid4()), str(uuid4())
    line = OrderLine(sku="a", quantity=2, unit_price=Decimal("1.25"))
    placed = OrderPlaced(customer_id="c", currency="EUR", lines=(line,), total=Decimal("2.50"))
    rows = orders.fold(
        [
            recorded(f"orders.{new}", 1, placed),
            recorded(f"orders.{old}", 2, OrderConfirmed(authorization_id="x")),
            recorded(f"orders.{new}", 3, OrderCancelled(reason="no")),
            recorded(f"orders.{old}", 4, OrderCancelled(reason="late")),
        ]
    )
    body = placed.model_dump(mode="json")
    assert (rows[new].customer_id, rows[new].currency) == ("c", "EUR") and rows[new].count == 2
    assert (rows[new].total, rows[new].lines) == (body["total"], body["lines"])
    assert (rows[new].status, rows[new].reason, rows[new].last_seq) == ("cancelled", "no", 3)
    assert rows[new].order_id == new and rows[old].order_id == old
    assert rows[old].created_at is None and rows[old].lines is None and rows[old].count == 2
    assert (rows[old].status, rows[old].reason) == ("cancelled", "late")
    assert rows[new].updated_at == "2026-01-01T00:00:03.000000Z"


def test_stock_fold_sums_deltas_per_sku() -> None:
    deltas = stock.fold(
        [
            recorded("stock.a", 1, StockReceived(quantity=10)),
            recorded("stock.a", 2, StockReserved(order_id="o", quantity=4)),
            recorded("stock.b", 3, StockAdjusted(delta=-2, reason="broken")),
            recorded("stock.a", 4, StockShipped(order_id="o", quantity=3)),
        ]
    )
    assert (deltas["a"].sku, deltas["a"].on_hand, deltas["a"].reserved) == ("a", 7, 1)
    assert deltas["a"].count == 3
    assert (deltas["b"].on_hand, deltas["b"].reserved, deltas["b"].last_seq) == (-2, 0, 3)
