"""The command routes of SPEC §3 as one table: path, body model, answer model and path
parameters. Routing (`routes.py`) and the OpenAPI document (`openapi.py`) both read it, so
what is documented is what is served and validated."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from http_edge.params import ORDER_ID, SKU, PathParameter
from write_side.http.schemas import (
    AdjustStockBody,
    CancelOrderBody,
    OrderCommandAnswer,
    OrderPlacedAnswer,
    PlaceOrderBody,
    ReceiveStockBody,
    ShipOrderBody,
    StockCommandAnswer,
)

B = TypeVar("B", bound=BaseModel, covariant=True)


@dataclass(frozen=True, eq=False)  # one route is one route: hashed by identity
class CommandRoute(Generic[B]):
    """`B`, the body model, ties the route to the action that takes its validated body."""

    path: str
    summary: str
    body: type[B]
    answer: type[BaseModel]
    parameters: tuple[PathParameter[Any], ...] = ()
    empty_body_is_empty_object: bool = False  # `cancel` and `ship` may come without a body

    @property
    def operation_id(self) -> str:
        return self.body.__name__.removesuffix("Body")


PLACE_ORDER = CommandRoute("/orders", "Place an order", PlaceOrderBody, OrderPlacedAnswer)
CANCEL_ORDER = CommandRoute(
    "/orders/{order_id}/cancel",
    "Cancel an order",
    CancelOrderBody,
    OrderCommandAnswer,
    (ORDER_ID,),
    empty_body_is_empty_object=True,
)
SHIP_ORDER = CommandRoute(
    "/orders/{order_id}/ship",
    "Ship a confirmed order",
    ShipOrderBody,
    OrderCommandAnswer,
    (ORDER_ID,),
    empty_body_is_empty_object=True,
)
RECEIVE_STOCK = CommandRoute(
    "/stock/{sku}/receive",
    "Receive stock (creates the SKU)",
    ReceiveStockBody,
    StockCommandAnswer,
    (SKU,),
)
ADJUST_STOCK = CommandRoute(
    "/stock/{sku}/adjust", "Adjust stock on hand", AdjustStockBody, StockCommandAnswer, (SKU,)
)
COMMANDS = (PLACE_ORDER, CANCEL_ORDER, SHIP_ORDER, RECEIVE_STOCK, ADJUST_STOCK)
