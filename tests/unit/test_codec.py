"""Bytes + headers <-> events, by stable type names; old versions upcast on read."""

import json
from decimal import Decimal
from uuid import uuid4

import pytest

from events.codec import DecodeError, decode, encode
from events.envelope import EVENT_TYPE, EVENT_VERSION, MSG_ID, Envelope
from events.orders import OrderLine, OrderPlaced, OrderPlacedV1
from events.stock import StockAdjusted

PLACED = OrderPlaced(
    customer_id="c1",
    currency="USD",
    lines=(OrderLine(sku="A", quantity=3, unit_price=Decimal("1.10")),),
    total=Decimal("3.30"),
)


def test_round_trip_keeps_event_and_envelope() -> None:
    envelope = Envelope(correlation_id="corr-1", causation_id="cause-1")
    data, headers = encode(PLACED, envelope)
    recorded = decode(data, headers, stream="ORDERS", seq=7, subject="orders.x")
    assert recorded.event == PLACED
    assert recorded.envelope == envelope
    assert (recorded.stream, recorded.seq, recorded.aggregate_id) == ("ORDERS", 7, "x")


def test_wire_format_is_plain_json_with_money_as_strings() -> None:
    data, headers = encode(PLACED, Envelope())
    assert json.loads(data) == {
        "customer_id": "c1",
        "currency": "USD",
        "lines": [{"sku": "A", "quantity": 3, "unit_price": "1.10"}],
        "total": "3.30",
    }
    assert headers[EVENT_TYPE] == "OrderPlaced"
    assert headers[EVENT_VERSION] == "2"
    assert "events." not in json.dumps(headers)  # no module paths on the wire


def test_version_1_order_placed_is_upcast_to_euros() -> None:
    old = OrderPlacedV1(customer_id="c1", lines=PLACED.lines, total=Decimal("3.30"))
    data, headers = encode(old, Envelope())
    assert headers[EVENT_VERSION] == "1"
    event = decode(data, headers, stream="ORDERS", seq=1, subject="orders.x").event
    assert isinstance(event, OrderPlaced)
    assert event.currency == "EUR"
    assert event.total == Decimal("3.30")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({EVENT_TYPE: "Nonsense"}, "unknown-event-type"),
        ({EVENT_VERSION: "9"}, "unknown-schema-version"),
        ({EVENT_VERSION: "x"}, "invalid-header"),
        ({MSG_ID: "not-a-uuid"}, "invalid-header"),
    ],
)
def test_bad_headers_are_refused_with_a_reason(change: dict[str, str], reason: str) -> None:
    data, headers = encode(StockAdjusted(delta=1, reason="r"), Envelope())
    with pytest.raises(DecodeError) as refused:
        decode(data, {**headers, **change}, stream="STOCK", seq=1, subject="stock.A")
    assert refused.value.reason == reason


def test_missing_header_and_bad_bodies() -> None:
    data, headers = encode(StockAdjusted(delta=1, reason="r"), Envelope())
    without = {k: v for k, v in headers.items() if k != MSG_ID}
    cases = [
        (data, without, "missing-header"),
        (b"{nope", headers, "invalid-json"),
        (b"[1]", headers, "invalid-json"),
        (b'{"delta": 0, "reason": "r"}', headers, "invalid-data"),
        (
            json.dumps({"delta": 1, "reason": "r", "id": str(uuid4())}).encode(),
            headers,
            "invalid-data",
        ),
    ]
    for body, given, reason in cases:
        with pytest.raises(DecodeError) as refused:
            decode(body, given, stream="STOCK", seq=1, subject="stock.A")
        assert refused.value.reason == reason


def test_total_must_be_the_sum_of_the_lines() -> None:
    data, headers = encode(PLACED, Envelope())
    body = json.loads(data) | {"total": "99.00"}
    with pytest.raises(DecodeError):
        decode(json.dumps(body).encode(), headers, stream="ORDERS", seq=1, subject="orders.x")
