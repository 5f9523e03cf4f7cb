"""Events of the Order aggregate (`orders.<order_id>`, stream ORDERS)."""

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.base import Event
from events.money import Money

Currency = str  # three upper-case letters, checked by the field pattern
CURRENCY_PATTERN = r"^[A-Z]{3}$"
RejectionReason = Literal["out_of_stock", "payment_declined", "payment_unavailable"]


class OrderLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    quantity: int = Field(ge=1, le=1_000_000)
    unit_price: Money


class OrderPlacedV1(Event):
    """The first shape of OrderPlaced: no currency (everything was EUR)."""

    event_type: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[int] = 1

    customer_id: str = Field(min_length=1, max_length=200)
    lines: tuple[OrderLine, ...] = Field(min_length=1)
    total: Money


class OrderPlaced(Event):
    event_type: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[int] = 2

    customer_id: str = Field(min_length=1, max_length=200)
    currency: Currency = Field(pattern=CURRENCY_PATTERN)
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=1000)
    total: Money

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> "OrderPlaced":
        expected = sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))
        if expected != self.total:
            raise ValueError(f"total {self.total} is not the sum of the lines ({expected})")
        return self


class OrderConfirmed(Event):
    event_type: ClassVar[str] = "OrderConfirmed"

    authorization_id: str = Field(min_length=1, max_length=200)


class OrderRejected(Event):
    event_type: ClassVar[str] = "OrderRejected"

    reason: RejectionReason
    detail: str = Field(default="", max_length=2000)


class OrderCancelled(Event):
    event_type: ClassVar[str] = "OrderCancelled"

    reason: str = Field(default="", max_length=500)


class OrderShipped(Event):
    event_type: ClassVar[str] = "OrderShipped"


ORDER_EVENTS: tuple[type[Event], ...] = (
    OrderPlaced,
    OrderConfirmed,
    OrderRejected,
    OrderCancelled,
    OrderShipped,
)
