"""The write side's decoding of events it stored: an event with this build's writer mark in
its current version is built without validation and equals what the validating path makes;
anything else is validated, with the same `DecodeError` as `events.codec.decode`."""

from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel

from events.base import Event
from events.codec import DecodeError, decode, encode
from events.envelope import EVENT_VERSION, Envelope
from events.orders import OrderLine, OrderPlaced, OrderRejected
from events.payments import PaymentAuthorized, PaymentDeclined, PaymentRefunded
from events.registry import CURRENT
from events.stock import StockAdjusted, StockReceived
from events.writer import WRITER, writer_mark
from write_side import marked_events
from write_side.marked_events import builder, decode_marked

LINES = (
    OrderLine(sku="sku-1", quantity=3, unit_price=Decimal("2.5")),
    OrderLine(sku="sku-2", quantity=1, unit_price=Decimal("0.01")),
)
EVENTS: list[Event] = [
    OrderPlaced(customer_id="c", currency="EUR", lines=LINES, total=Decimal("7.51")),
    OrderRejected(reason="payment_declined", detail="no"),
    PaymentAuthorized(amount=Decimal("12"), currency="USD", authorization_id="a-1"),
    PaymentDeclined(reason="limit"),
    PaymentRefunded(amount=Decimal("0.5")),
    StockAdjusted(delta=-1, reason="broken"),
]
WHERE = {"stream": "ORDERS", "seq": 7, "subject": "orders.o-1"}


def test_every_current_event_type_has_a_builder() -> None:
    assert sorted(marked_events._builders()) == sorted(CURRENT)


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.event_type)
def test_a_marked_event_is_built_as_the_validating_path_builds_it(
    event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, headers = encode(event, Envelope(correlation_id="k", causation_id="c-1"))
    validated = decode(data, headers, **WHERE)  # type: ignore[arg-type]

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("validated")

    monkeypatch.setattr(type(event), "model_validate_json", never)
    fast = decode_marked(data, headers, **WHERE)  # type: ignore[arg-type]
    assert fast == validated
    assert fast.event == event and type(fast.event) is type(event)
    assert fast.event.model_dump() == event.model_dump()
    assert repr(fast.event) == repr(validated.event)
    assert fast.event.model_fields_set == validated.event.model_fields_set
    assert encode(fast.event, fast.envelope) == (data, headers)  # written back the same
    if isinstance(event, OrderPlaced):
        assert isinstance(fast.event, OrderPlaced)
        assert all(type(line) is OrderLine for line in fast.event.lines)
        assert fast.event.total == Decimal("7.51") and isinstance(fast.event.total, Decimal)


@pytest.mark.parametrize(
    ("body", "changed", "reason"),
    [
        (b'{"quantity": 0}', {}, "invalid-data"),  # headers of another body: validated
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
    if reason is None:
        assert decode_marked(body, headers, **WHERE).event == StockReceived(quantity=1)  # type: ignore[arg-type]
        return
    with pytest.raises(DecodeError) as raised:
        decode_marked(body, headers, **WHERE)  # type: ignore[arg-type]
    with pytest.raises(DecodeError) as expected:
        decode(body, headers, **WHERE)  # type: ignore[arg-type]
    assert raised.value.reason == expected.value.reason == reason


def test_a_body_without_a_field_that_has_a_default_gets_the_default() -> None:
    build = builder(OrderRejected)
    assert build is not None
    made = build({"reason": "out_of_stock"})
    assert made == OrderRejected(reason="out_of_stock")
    assert made.model_fields_set == {"reason"}


def test_a_marked_body_that_does_not_build_is_validated() -> None:
    # Marked (the mark binds the body, not its meaning), but not what the model makes:
    # the validating path names the problem.
    body = b'{"customer_id":"c","currency":"EUR","lines":7,"total":"x"}'
    headers = encode(OrderRejected(reason="out_of_stock"), Envelope())[1]
    headers.update({"Tally-Event-Type": "OrderPlaced", EVENT_VERSION: "2"})
    headers[WRITER] = writer_mark(body)
    with pytest.raises(DecodeError) as raised:
        decode_marked(body, headers, **WHERE)  # type: ignore[arg-type]
    assert raised.value.reason == "invalid-data"


def test_a_field_type_it_does_not_know_leaves_the_model_to_validation() -> None:
    class Stamped(BaseModel):
        at: datetime

    class Lines(BaseModel):
        lines: tuple[OrderLine, ...]
        note: str | None = None

    assert builder(Stamped) is None
    made = builder(Lines)
    assert made is not None
    line = {"sku": "a", "quantity": 1, "unit_price": "1.50"}
    assert made({"lines": [line]}) == Lines(lines=(OrderLine.model_validate(line),))
