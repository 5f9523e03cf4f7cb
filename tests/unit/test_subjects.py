from uuid import uuid4

import pytest

from events.subjects import (
    InvalidPosition,
    InvalidSubject,
    Position,
    split_subject,
    stock_subject,
)


def test_position_round_trip() -> None:
    assert str(Position.parse("ORDERS:42")) == "ORDERS:42"
    assert Position.parse("STOCK:0") == Position("STOCK", 0)


@pytest.mark.parametrize(
    "token", ["", "ORDERS", "ORDERS:", "orders:1", "X:1", "ORDERS:-1", "ORDERS:1x", "ORDERS:²"]
)
def test_invalid_positions(token: str) -> None:
    with pytest.raises(InvalidPosition):
        Position.parse(token)


@pytest.mark.parametrize("sku", ["a.b", "a*", ">", "a b", "", "x" * 65, "é"])
def test_skus_that_cannot_be_a_subject_token(sku: str) -> None:
    with pytest.raises(InvalidSubject):
        stock_subject(sku)


def test_split_subject() -> None:
    order_id = str(uuid4())
    assert split_subject(f"orders.{order_id}") == ("ORDERS", order_id)
    with pytest.raises(InvalidSubject):
        split_subject("other.x")
