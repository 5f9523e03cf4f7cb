from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from events.subjects import (
    InvalidPosition,
    InvalidSubject,
    Position,
    order_subject,
    payment_subject,
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


@pytest.mark.parametrize("subject", [order_subject, payment_subject])
def test_an_order_id_is_named_by_its_canonical_text(subject: Callable[[UUID | str], str]) -> None:
    made = uuid4()
    prefix = subject(made).partition(".")[0]
    for given in (made, str(made), str(made).upper(), made.hex, f"{{{made}}}", f"urn:uuid:{made}"):
        assert subject(given) == f"{prefix}.{made}"
    for wrong in ("", "x", str(made)[:-1], f"{made}0", f"{made}\n", str(made).replace("-", "_")):
        with pytest.raises(ValueError):
            subject(wrong)
