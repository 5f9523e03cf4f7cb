"""Decoding into facts: an event written by this build (the writer mark, current version)
takes the fast path and yields exactly what the validating path yields; anything else is
validated and fails with the same `DecodeError` as `events.codec.decode`."""

from decimal import Decimal

import pytest

from events.base import Event
from events.codec import DecodeError, decode, encode
from events.envelope import EVENT_VERSION, Envelope
from events.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
)
from events.stock import (
    StockAdjusted,
    StockReceived,
    StockReservationReleased,
    StockReserved,
    StockShipped,
)
from events.writer import WRITER, is_marked, writer_mark
from projections.facts import decode_fact, from_recorded

LINE = OrderLine(sku="sku-1", quantity=3, unit_price=Decimal("2.5"))
EVENTS: list[Event] = [
    OrderPlaced(customer_id="c", currency="EUR", lines=(LINE,), total=Decimal("7.50")),
    OrderConfirmed(authorization_id="a"),
    OrderRejected(reason="out_of_stock"),
    OrderCancelled(),
    OrderShipped(),
    StockReceived(quantity=4),
    StockAdjusted(delta=-1, reason="broken"),
    StockReserved(order_id="o", quantity=2),
    StockReservationReleased(order_id="o", quantity=2),
    StockShipped(order_id="o", quantity=2),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.event_type)
def test_a_marked_event_decodes_as_the_validating_path_does(event: Event) -> None:
    data, headers = encode(event, Envelope())
    assert headers[WRITER] == writer_mark(data)
    where = {"stream": "ORDERS", "seq": 7, "subject": "orders.x"}
    fast = decode_fact(data, headers, **where)  # type: ignore[arg-type]
    validated = from_recorded(decode(data, headers, **where))  # type: ignore[arg-type]
    assert fast == validated


def test_the_mark_binds_the_body() -> None:
    assert writer_mark(b"{}") == writer_mark(b"{}") and len(writer_mark(b"{}")) == 24
    assert not is_marked(b'{"a":1}', writer_mark(b"{}"))
    assert not is_marked(b"{}", None)


@pytest.mark.parametrize(
    ("body", "changed", "reason"),
    [
        (b'{"quantity": 0}', {}, "invalid-data"),  # headers of another body: validated
        (b'{"quantity":1}', {}, None),  # the very body marked: taken as it is
        (b'{"quantity":1}', {EVENT_VERSION: "9"}, "unknown-schema-version"),
        (b'{"quantity":1}', {WRITER: "0" * 24}, None),  # a wrong mark: validated, valid
        (b"[1]", {}, "invalid-json"),
        (b"not json", {}, "invalid-json"),
    ],
)
def test_what_is_not_as_written_is_validated(
    body: bytes, changed: dict[str, str], reason: str | None
) -> None:
    marked, headers = encode(StockReceived(quantity=1), Envelope())
    assert marked == b'{"quantity":1}'
    headers.update(changed)
    where = {"stream": "STOCK", "seq": 1, "subject": "stock.a"}
    if reason is None:
        assert decode_fact(body, headers, **where).data == {"quantity": 1}  # type: ignore[arg-type]
        return
    with pytest.raises(DecodeError) as raised:
        decode_fact(body, headers, **where)  # type: ignore[arg-type]
    with pytest.raises(DecodeError) as expected:
        decode(body, headers, **where)  # type: ignore[arg-type]
    assert raised.value.reason == expected.value.reason == reason
