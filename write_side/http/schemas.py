"""Request and answer bodies of the command routes; they validate requests and feed the
OpenAPI document."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from events.money import MONEY_PATTERN
from events.orders import CURRENCY_PATTERN
from events.subjects import SKU_PATTERN

MoneyText = Annotated[str, Field(pattern=MONEY_PATTERN, max_length=16, examples=["12.50"])]
Sku = Annotated[str, Field(pattern=SKU_PATTERN, examples=["SKU-1"])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLineIn(_Body):
    sku: Sku
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)]
    unit_price: MoneyText


class PlaceOrderBody(_Body):
    customer_id: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Annotated[str, Field(pattern=CURRENCY_PATTERN)] = "EUR"
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=1000)]


class CancelOrderBody(_Body):
    reason: Annotated[str, Field(max_length=500)] = ""


class ShipOrderBody(_Body):
    pass


class ReceiveStockBody(_Body):
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]


class AdjustStockBody(_Body):
    delta: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, delta: int) -> int:
        if delta == 0:
            raise ValueError("delta must not be 0")
        return delta


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
