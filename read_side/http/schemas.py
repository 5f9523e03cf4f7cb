"""The answers of the query routes, as documented in the OpenAPI document."""

from typing import Any, Literal

from pydantic import BaseModel, Field

Money = str


class OrderLineView(BaseModel):
    sku: str
    quantity: int
    unit_price: Money = Field(examples=["12.50"])


class OrderView(BaseModel):
    order_id: str = Field(json_schema_extra={"format": "uuid"})
    customer_id: str
    status: Literal["pending", "confirmed", "rejected", "cancelled", "shipped"]
    currency: str
    lines: list[OrderLineView]
    total: Money = Field(examples=["25.00"])
    reason: str | None = Field(description="the rejection code or the cancellation text")
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    version: int = Field(description="events of the order applied to this view")
    as_of: str | None = Field(
        default=None, description="with `?as_of=`: the last position folded (`ORDERS:42`)"
    )


class OrderList(BaseModel):
    items: list[OrderView]
    next_cursor: str | None


class StockView(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int
    version: int
    as_of: str | None = Field(
        default=None, description="with `?as_of=`: the last position folded (`STOCK:42`)"
    )


class StockList(BaseModel):
    items: list[StockView]
    next_cursor: str | None


class EventItem(BaseModel):
    seq: int = Field(description="stream sequence")
    type: str | None
    version: int | None = Field(description="schema version")
    occurred_at: str | None
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any] | None


class EventList(BaseModel):
    items: list[EventItem]


class ReplayBrief(BaseModel):
    """The latest replay of a view asked for through the admin API."""

    id: str
    state: str  # building, catching-up, comparing, swapped, failed, cancelled
    done: int
    total: int


class ProjectionState(BaseModel):
    name: str
    stream: str
    partition: int | None = None  # null: the view is not partitioned
    position: int
    stream_last_seq: int
    lag: int
    state: str
    # the completeness audit: applied + dead + ignored (another partition's events) add
    # up to the position (since the counters began); `complete` false: an event was skipped
    applied: int = 0
    dead: int = 0
    ignored: int = 0
    complete: bool = True
    paused: bool = False  # `tally pause` / POST /admin/projections/{name}/pause
    replay: ReplayBrief | None = None


class ProjectionList(BaseModel):
    items: list[ProjectionState]
