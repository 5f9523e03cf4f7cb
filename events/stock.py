"""Events of the StockItem aggregate (`stock.<sku>`, stream STOCK)."""

from typing import ClassVar

from pydantic import Field, field_validator

from events.base import Event


class StockReceived(Event):
    event_type: ClassVar[str] = "StockReceived"

    quantity: int = Field(ge=1, le=1_000_000_000)


class StockAdjusted(Event):
    event_type: ClassVar[str] = "StockAdjusted"

    delta: int = Field(ge=-1_000_000_000, le=1_000_000_000)
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("delta must not be 0")
        return value


class StockReserved(Event):
    event_type: ClassVar[str] = "StockReserved"

    order_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1)


class StockReservationReleased(Event):
    event_type: ClassVar[str] = "StockReservationReleased"

    order_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1)


class StockShipped(Event):
    event_type: ClassVar[str] = "StockShipped"

    order_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1)


STOCK_EVENTS: tuple[type[Event], ...] = (
    StockReceived,
    StockAdjusted,
    StockReserved,
    StockReservationReleased,
    StockShipped,
)
