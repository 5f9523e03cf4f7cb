"""The query routes of SPEC §3: views from PostgreSQL through the pool, events straight
from JetStream, read-your-writes with `after`/`wait`, and GET /projections.

Every database or NATS call is bounded by the query timeout and its failures arrive here
already translated (`ReadSideUnavailable`); refusals are raised and answered by the app's
error table (`errors.py`), so a dependency that is down is a 503, never a hang or a 500.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from events.subjects import ORDERS, STOCK, SUBJECT_PREFIX
from http_edge.params import ORDER_ID, SKU
from http_edge.problems import invalid, not_found
from read_side import queries
from read_side.cursors import InvalidCursor, parse_order_cursor, parse_stock_cursor
from read_side.errors import PositionOfAnotherStream
from read_side.http.params import OrderListQuery, ReadYourWrites, StockListQuery, parse_query
from read_side.http.table import QUERIES
from read_side.read_your_writes import WaitForView
from read_side.stream_reader import describe, last_of, last_sequence, read_subject
from read_side.views import ViewReader

Handler = Callable[[Request], Awaitable[Response]]


class QueryRoutes:
    def __init__(self, views: ViewReader, nc: NATS, waiting: WaitForView) -> None:
        self._views = views
        self._nc = nc
        self._waiting = waiting
        self._timeout = views.timeout

    def routes(self) -> list[Route]:
        handlers: dict[str, Handler] = {  # by operationId
            "ListOrders": self.list_orders,
            "GetOrder": self.get_order,
            "GetOrderEvents": self.order_events,
            "ListStock": self.list_stock,
            "GetStock": self.get_stock,
            "GetStockEvents": self.stock_events,
            "ListProjections": self.list_projections,
        }
        return [
            Route(route.path, handlers[route.operation_id], methods=["GET"]) for route in QUERIES
        ]

    async def get_order(self, request: Request) -> Response:
        query = parse_query(ReadYourWrites, request.query_params)
        order_id = ORDER_ID(request)
        await self._waiting.until_applied("orders", query.position, query.wait, str(order_id))
        found = await self._views.read_direct(
            lambda driver: queries.get_order_direct(driver, order_id)
        )
        if found is None:
            raise not_found(f"no order {order_id}")
        return JSONResponse(found)

    async def list_orders(self, request: Request) -> Response:
        query = parse_query(OrderListQuery, request.query_params)
        try:
            before = parse_order_cursor(query.cursor) if query.cursor else None
        except InvalidCursor as error:
            raise invalid("cursor", str(error), "invalid_cursor") from None
        await self._waiting.until_applied("orders", query.position, query.wait)
        items, cursor = await self._views.read(
            lambda conn: queries.list_orders(
                conn,
                limit=query.limit,
                status=query.status,
                customer_id=query.customer_id,
                before=before,
            )
        )
        return JSONResponse({"items": items, "next_cursor": cursor})

    async def get_stock(self, request: Request) -> Response:
        query = parse_query(ReadYourWrites, request.query_params)
        sku = SKU(request)
        await self._waiting.until_applied("stock", query.position, query.wait, sku)
        found = await self._views.read(lambda conn: queries.get_stock(conn, sku))
        if found is None:
            raise not_found(f"no stock item {sku}")
        return JSONResponse(found)

    async def list_stock(self, request: Request) -> Response:
        query = parse_query(StockListQuery, request.query_params)
        try:
            after_sku = parse_stock_cursor(query.cursor) if query.cursor else None
        except InvalidCursor as error:
            raise invalid("cursor", str(error), "invalid_cursor") from None
        await self._waiting.until_applied("stock", query.position, query.wait)
        items, cursor = await self._views.read(
            lambda conn: queries.list_stock(
                conn, limit=query.limit, max_available=query.max_available, after_sku=after_sku
            )
        )
        return JSONResponse({"items": items, "next_cursor": cursor})

    async def _events(self, request: Request, stream: str, subject: str, what: str) -> Response:
        query = parse_query(ReadYourWrites, request.query_params)
        if query.position is not None and query.position.stream != stream:
            raise PositionOfAnotherStream(f"{query.position} is not a position of {stream}")
        stored = self._waiting.layout.stored(stream, subject)  # orders.<p>.<id> if partitioned
        found = await read_subject(self._nc, stream, stored, timeout=self._timeout)
        if not found:
            raise not_found(f"no {what}")
        items = [describe(stream, subject, seq, data, headers) for seq, data, headers in found]
        return JSONResponse({"items": items})

    async def order_events(self, request: Request) -> Response:
        order_id = ORDER_ID(request)
        return await self._events(request, ORDERS, f"orders.{order_id}", f"order {order_id}")

    async def stock_events(self, request: Request) -> Response:
        sku = SKU(request)
        return await self._events(request, STOCK, f"stock.{sku}", f"stock item {sku}")

    async def list_projections(self, request: Request) -> Response:
        return JSONResponse({"items": await self.projection_states()})

    async def projection_states(self) -> list[dict[str, Any]]:
        """One item per view, or per partition of a partitioned view (`partition` set; its
        `stream_last_seq` is the partition's last event, its lag the sequences between)."""
        known = await self._views.read(queries.checkpoints)
        items = []
        for name, stream in self._waiting.streams.items():
            last = await last_sequence(self._nc, stream, timeout=self._timeout)
            for row, partition in self._waiting.rows(name):
                _, position, state = known.get(row, (stream, 0, "live"))
                top = last
                if partition is not None:
                    subjects = f"{SUBJECT_PREFIX[stream]}.{partition}.*"
                    top = await last_of(self._nc, stream, subjects, timeout=self._timeout)
                lag = max(0, top - position)
                if state == "live" and lag > 0:
                    state = "catching-up"
                items.append(
                    {
                        "name": name,
                        "stream": stream,
                        "partition": partition,
                        "position": position,
                        "stream_last_seq": top,
                        "lag": lag,
                        "state": state,
                    }
                )
        return items
