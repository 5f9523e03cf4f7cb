"""Request and answer bodies of the command routes; they validate requests and feed the
OpenAPI document."""

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from events.money import CENT, MONEY_PATTERN
from events.orders import CURRENCY_PATTERN, OrderLine
from events.subjects import SKU_PATTERN


def _money(text: str) -> Decimal:
    """A price the pattern accepted (at most 13 digits before the point, 2 after), held as
    the event holds it: a Decimal with two places."""
    return Decimal(text).quantize(CENT)


class _PriceText:
    """A body's price: a decimal string (a JSON number is refused), validated as text and
    held as a Decimal."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        text = core_schema.str_schema(pattern=MONEY_PATTERN, max_length=16)
        return core_schema.no_info_after_validator_function(_money, text)


MoneyText = Annotated[Decimal, _PriceText(), Field(examples=["12.50"])]
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


_new = object.__new__
_set = object.__setattr__


def _event_line(fields: tuple[dict[str, Any], None, set[str]]) -> OrderLine:
    """The event's line from the fields `OrderLineIn`'s rules accepted, made as pydantic
    makes a validated model (its rules are the event line's, stricter: see the unit test)."""
    values, _, given = fields
    line = _new(OrderLine)
    _set(line, "__dict__", values)
    _set(line, "__pydantic_fields_set__", given)
    _set(line, "__pydantic_extra__", None)
    _set(line, "__pydantic_private__", None)
    return line


class _AsEventLine:
    """An order line of the body checked by `OrderLineIn`'s rules and built straight as the
    event's line (`events.orders.OrderLine`): one validation, no second model made per line.
    The document still shows `OrderLineIn`. (A model schema naming `OrderLine` would not do:
    pydantic-core then reuses `OrderLine`'s own validator, with the event's looser rules.)"""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        rules = OrderLineIn.__pydantic_core_schema__
        if rules["type"] != "model" or rules["schema"]["type"] != "model-fields":
            raise TypeError(f"OrderLineIn's schema is a {rules['type']!r}, not a plain model")
        fields = core_schema.model_fields_schema(
            rules["schema"]["fields"], model_name="OrderLineIn", extra_behavior="forbid"
        )
        # the reference names the line's component in the document `OrderLineIn`, as before
        return core_schema.no_info_after_validator_function(
            _event_line, fields, ref=f"{__name__}.OrderLineIn:event-line"
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        reference = handler(schema)  # the line's component: described as `OrderLineIn` is
        handler.resolve_ref_schema(reference).update(handler(OrderLineIn.__pydantic_core_schema__))
        return reference


EventLine = Annotated[OrderLine, _AsEventLine()]


class PlaceOrderBody(_Body):
    """The order's total (the sum of quantity x unit_price) must have at most 13 digits
    before the decimal point; a larger one is refused (422 on `total`)."""

    customer_id: CustomerId
    currency: Annotated[str, Field(pattern=CURRENCY_PATTERN)] = "EUR"
    lines: Annotated[list[EventLine], Field(min_length=1, max_length=1000)]


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
