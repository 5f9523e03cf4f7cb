"""The query routes of SPEC §3 as one table: path, query model, answer model, path
parameters, the stream a route's positions belong to. Routing (`routes.py`) and the
OpenAPI document (`openapi.py`) both read it, so what is documented is what is served."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from events.subjects import ORDERS, STOCK
from http_edge.params import ORDER_ID, SKU, PathParameter
from read_side.http.params import OrderListQuery, ReadYourWrites, StockListQuery, ViewQuery
from read_side.http.schemas import (
    EventList,
    OrderList,
    OrderView,
    ProjectionList,
    StockList,
    StockView,
)


@dataclass(frozen=True, eq=False)  # one route is one route: hashed by identity
class QueryRoute:
    path: str
    summary: str
    operation_id: str
    answer: type[BaseModel]
    query: type[BaseModel] | None = None
    parameters: tuple[PathParameter[Any], ...] = ()
    stream: str | None = None  # `after` takes positions of this stream only
    errors: frozenset[int] = frozenset({503})
    tag: str = "queries"


LOOKUP = frozenset({400, 404, 422, 503})
LIST = frozenset({400, 422, 503})
ORDER_EVENTS = "The order's events, read from JetStream"
STOCK_EVENTS = "The stock item's events, read from JetStream"
PROJECTIONS = "Projections: position, stream end, lag, state"

QUERIES = (
    QueryRoute("/orders", "List orders, newest first", "ListOrders", OrderList, OrderListQuery,
               (), ORDERS, LIST),
    QueryRoute("/orders/{order_id}", "One order, now or as of a point", "GetOrder", OrderView,
               ViewQuery, (ORDER_ID,), ORDERS, LOOKUP),
    QueryRoute("/orders/{order_id}/events", ORDER_EVENTS, "GetOrderEvents", EventList,
               ReadYourWrites, (ORDER_ID,), ORDERS, LOOKUP),
    QueryRoute("/stock", "List stock items by SKU", "ListStock", StockList, StockListQuery,
               (), STOCK, LIST),
    QueryRoute("/stock/{sku}", "One stock item, now or as of a point", "GetStock", StockView,
               ViewQuery, (SKU,), STOCK, LOOKUP),
    QueryRoute("/stock/{sku}/events", STOCK_EVENTS, "GetStockEvents", EventList,
               ReadYourWrites, (SKU,), STOCK, LOOKUP),
    QueryRoute("/projections", PROJECTIONS, "ListProjections", ProjectionList,
               tag="operations"),
)  # fmt: skip
