"""Request and answer bodies of the command routes; they validate requests and feed the
OpenAPI document."""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

from events.money import MONEY_PATTERN
from events.orders import CURRENCY_PATTERN
from events.subjects import SKU_PATTERN

MoneyText = Annotated[str, Field(pattern=MONEY_PATTERN, max_length=16, examples=["12.50"])]
Sku = Annotated[str, Field(pattern=SKU_PATTERN, examples=["SKU-1"])]


def _integral(value: object) -> object:
    """A JSON number without a fractional part is an integer, as JSON Schema's `integer`
    (what the document says) has it: 412.0 is 412; true, "412" and 412.5 are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# last in each Annotated, so that it runs before StrictInt and its bounds
AS_INTEGER = BeforeValidator(_integral)
# Free text never carries control characters (C0, DEL, C1): PostgreSQL refuses NUL, and a
# value the API accepted must never become an event the views cannot store.
FREE_TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _no_control_characters(text: str) -> str:
    if _CONTROL.search(text):
        raise PydanticCustomError(
            "control_characters", "must not contain control characters (U+0000-001F, U+007F-009F)"
        )
    return text


# Free-text fields: checked by the validator (a clear message, after the length bounds);
# the pattern documents it in OpenAPI.
_NO_CONTROL = AfterValidator(_no_control_characters)
_DOCUMENTED = {"pattern": FREE_TEXT_PATTERN}
CustomerId = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra=_DOCUMENTED), _NO_CONTROL
]
CancelReason = Annotated[str, Field(max_length=500, json_schema_extra=_DOCUMENTED), _NO_CONTROL]
AdjustReason = Annotated[
    str, Field(min_length=1, max_length=500, json_schema_extra=_DOCUMENTED), _NO_CONTROL
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLineIn(_Body):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000), AS_INTEGER]
    unit_price: MoneyText


class PlaceOrderBody(_Body):
    """The order's total (the sum of quantity x unit_price) must have at most 13 digits
    before the decimal point; a larger one is refused (422 on `total`)."""

    customer_id: CustomerId
    currency: Annotated[str, Field(pattern=CURRENCY_PATTERN)] = "EUR"
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=1000)]


class CancelOrderBody(_Body):
    reason: CancelReason = ""


class ShipOrderBody(_Body):
    pass


class ReceiveStockBody(_Body):
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000_000), AS_INTEGER]


def _not_zero(delta: int) -> int:
    if delta == 0:
        raise ValueError("delta must not be 0")
    return delta


# the rule and its JSON schema side by side, so the document says what validation does
Delta = Annotated[
    StrictInt,
    Field(ge=-1_000_000_000, le=1_000_000_000, json_schema_extra={"not": {"const": 0}}),
    AfterValidator(_not_zero),
    AS_INTEGER,
]


class AdjustStockBody(_Body):
    delta: Delta
    reason: AdjustReason


class OrderPlacedAnswer(BaseModel):
    order_id: str
    status: Literal["pending"] = "pending"
    position: Annotated[str, Field(examples=["ORDERS:42"])]


class OrderCommandAnswer(BaseModel):
    order_id: str
    position: Annotated[str, Field(examples=["ORDERS:43"])]


class StockCommandAnswer(BaseModel):
    sku: str
    position: Annotated[str, Field(examples=["STOCK:7"])]
