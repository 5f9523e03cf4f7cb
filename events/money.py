"""Money and quantities as they travel on the wire: decimal strings with two places."""

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("must have at most 2 decimal places")
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_money(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


MONEY_PATTERN = r"^\d{1,13}(\.\d{1,2})?$"

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=15, decimal_places=2),  # what numeric(15, 2) columns hold
    AfterValidator(_two_places),
    PlainSerializer(format_money, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["12.50"]}),
]
"""A non-negative amount: accepted as a decimal string (or number), written as "12.50"."""
