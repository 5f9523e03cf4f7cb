"""POST /orders' body: its lines are checked by `OrderLineIn`'s rules and come out as the
event's own line type, equal to the line the event's rules would build; the document
still describes them as `OrderLineIn`."""

import json
from decimal import Decimal

import pydantic
import pytest

from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderLine, OrderPlaced
from http_edge.openapi import model_schemas
from http_edge.problems import Problem
from write_side.http.body import parse_body
from write_side.http.schemas import OrderLineIn, PlaceOrderBody

LINES = [
    {"sku": "A", "quantity": 1, "unit_price": "1"},
    {"sku": "B-2", "quantity": 2.0, "unit_price": "00012.5"},
    {"sku": "c_3", "quantity": 1, "unit_price": "9999999999999.99"},
    {"sku": "D", "quantity": 3, "unit_price": "0"},
]


def _body(lines: list[dict[str, object]]) -> bytes:
    return json.dumps({"customer_id": "c", "lines": lines}).encode()


def test_the_lines_are_the_events_lines_as_its_own_rules_make_them() -> None:
    body = parse_body(PlaceOrderBody, _body(LINES))
    for line, given in zip(body.lines, LINES, strict=True):
        by_the_event = OrderLine(
            sku=str(given["sku"]),
            quantity=int(given["quantity"]),  # type: ignore[call-overload]
            unit_price=Decimal(str(given["unit_price"])),
        )
        assert type(line) is OrderLine
        assert line == by_the_event and repr(line) == repr(by_the_event)
        assert line.model_fields_set == by_the_event.model_fields_set
        assert OrderLine.model_validate(line.model_dump()) == line  # within the event's rules
        with pytest.raises(pydantic.ValidationError):  # frozen, as the event's lines are
            line.quantity = 5  # type: ignore[misc]


def test_an_order_of_these_lines_is_stored_as_one_of_validated_lines() -> None:
    lines = tuple(parse_body(PlaceOrderBody, _body(LINES[:2] + LINES[3:])).lines)
    validated = tuple(OrderLine.model_validate(line.model_dump()) for line in lines)
    total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    envelope = Envelope(correlation_id="k")
    ours = OrderPlaced(customer_id="c", currency="EUR", lines=lines, total=total)
    theirs = OrderPlaced(customer_id="c", currency="EUR", lines=validated, total=total)
    assert encode(ours, envelope) == encode(theirs, envelope)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"sku": "A", "quantity": 1, "unit_price": 1.5}, "string_type"),  # the event takes it
        ({"sku": "A", "quantity": "2", "unit_price": "1"}, "int_type"),  # the event takes it
        ({"sku": "A", "quantity": 1, "unit_price": "1.001"}, "string_pattern_mismatch"),
        ({"sku": "A", "quantity": 1, "unit_price": "1", "x": 1}, "extra_forbidden"),
    ],
)
def test_the_bodys_rules_hold_not_the_events(line: dict[str, object], code: str) -> None:
    with pytest.raises(Problem) as refused:
        parse_body(PlaceOrderBody, _body([line]))
    assert refused.value.status == 422
    assert [error["code"] for error in refused.value.errors or []] == [code]


def test_the_document_names_the_lines_order_line_in() -> None:
    refs, components = model_schemas([(PlaceOrderBody, "validation")])
    body = components[refs[(PlaceOrderBody, "validation")]["$ref"].rsplit("/", 1)[1]]
    assert body["properties"]["lines"]["items"] == {"$ref": "#/components/schemas/OrderLineIn"}
    assert components["OrderLineIn"] == OrderLineIn.model_json_schema()
