"""The query routes of SPEC §3: views from PostgreSQL through the pool, events straight
from JetStream, read-your-writes with `after`/`wait`, and GET /projections.

A view route runs one statement of `queries.py`, whose rows are already the answer's JSON
(`answers.JsonAnswer` passes them through). Every database or NATS call is bounded by the query
timeout and its failures arrive here already translated (`ReadSideUnavailable`);
refusals are raised and answered by the app's error table (`errors.py`), so a dependency
that is down is a 503, never a hang or a 500.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nats.aio.client import Client as NATS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from events.subjects import ORDERS, STOCK, SUBJECT_PREFIX, order_subject, stock_subject
from http_edge.params import ORDER_ID, SKU
from http_edge.problems import invalid, not_found
from read_side import queries
from read_side.cursors import InvalidCursor, parse_order_cursor, parse_stock_cursor
from read_side.errors import AsOfWithAfter, PositionOfAnotherStream
from read_side.http.answers import JsonAnswer
from read_side.http.params import (
    OrderListQuery,
    Page,
    ReadYourWrites,
    StockListQuery,
    ViewQuery,
    query_of,
)
from read_side.http.table import QUERIES
from read_side.read_your_writes import WaitForView
from read_side.stream_reader import describe, last_of, last_sequence, read_subject
from read_side.temporal import AsOf, TemporalReads
from read_side.views import ViewReader

Handler = Callable[[Request], Awaitable[Response]]


class QueryRoutes:
    def __init__(
        self, views: ViewReader, nc: NATS, waiting: WaitForView, temporal: TemporalReads
    ) -> None:
        self._views = views
        self._nc = nc
        self._waiting = waiting
        self._temporal = temporal
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

    async def _one(
        self, projection: str, query: ReadYourWrites, sql: tuple[str, str], key: str
    ) -> str | None:
        """The JSON of one view row (None: no such row), read after `query.after`;
        `sql` is the statement and its `checked` form; `key` the order id (canonical text)
        or SKU."""
        plain, with_checkpoint = sql

        async def checked(checkpoint: str) -> tuple[int, str | None]:
            position, body = await self._views.row(with_checkpoint, key, checkpoint)
            return position, body

        return await self._waiting.read(
            projection,
            query.position,
            query.wait,
            lambda: self._views.value(plain, key),
            checked,
            key,
            key,
        )

    async def _page(
        self,
        projection: str,
        query: Page,
        sql: str,
        args: tuple[Any, ...],
        order: str,
        render: Callable[[Sequence[Any], int], bytes],
    ) -> bytes:
        """One page of a list as its answer's bytes, read after `query.after` (cached as
        bytes: a page asked again costs no rendering either)."""

        async def checked(checkpoint: str) -> tuple[int, bytes]:
            statement = queries.checked(sql, len(args) + 1, order)
            found = await self._views.rows(statement, *args, checkpoint)
            return found[0]["position"], render(found, query.limit)

        async def plain() -> bytes:
            return render(await self._views.rows(sql, *args), query.limit)

        return await self._waiting.read(
            projection,
            query.position,
            query.wait,
            plain,
            checked,
            cache_key=(sql, args),
            cache_size=query.limit + 1,
        )

    async def _as_of(
        self, projection: str, query: ViewQuery, point: AsOf, subject: str, what: str
    ) -> Response:
        """The row as of `point`, folded from the stream (`temporal.py`)."""
        if query.after is not None:
            raise AsOfWithAfter("`as_of` and `after` exclude each other: give one")
        stream = self._waiting.streams[projection]
        stored = self._waiting.layout.stored(stream, subject)  # orders.<p>.<id> if partitioned
        row = await self._temporal.row(projection, stored, point)
        if row is None:
            raise not_found(f"no {what} as of {query.as_of}")
        return JSONResponse(row)

    async def get_order(self, request: Request) -> Response:
        query = query_of(ViewQuery, request)
        order_id = ORDER_ID(request)
        point = query.point
        if point is not None:
            subject = order_subject(order_id)
            return await self._as_of("orders", query, point, subject, f"order {order_id}")
        body = await self._one("orders", query, queries.ORDER_BY_ID, order_id)
        if body is None:
            raise not_found(f"no order {order_id}")
        return JsonAnswer(body)

    async def list_orders(self, request: Request) -> Response:
        query = query_of(OrderListQuery, request)
        try:
            before = parse_order_cursor(query.cursor) if query.cursor else None
        except InvalidCursor as error:
            raise invalid("cursor", str(error), "invalid_cursor") from None
        sql = queries.list_orders_sql(
            status=query.status is not None,
            customer=query.customer_id is not None,
            before=before is not None,
        )
        given = (query.status, query.customer_id, *(before or (None, None)))
        args = (query.limit + 1, *(value for value in given if value is not None))
        page = await self._page(
            "orders", query, sql, args, queries.ORDER_PAGE_ORDER, queries.order_page
        )
        return JsonAnswer(page)

    async def get_stock(self, request: Request) -> Response:
        query = query_of(ViewQuery, request)
        sku = SKU(request)
        point = query.point
        if point is not None:
            subject = stock_subject(sku)
            return await self._as_of("stock", query, point, subject, f"stock item {sku}")
        body = await self._one("stock", query, queries.STOCK_BY_SKU, sku)
        if body is None:
            raise not_found(f"no stock item {sku}")
        return JsonAnswer(body)

    async def list_stock(self, request: Request) -> Response:
        query = query_of(StockListQuery, request)
        try:
            after_sku = parse_stock_cursor(query.cursor) if query.cursor else None
        except InvalidCursor as error:
            raise invalid("cursor", str(error), "invalid_cursor") from None
        sql = queries.list_stock_sql(
            max_available=query.max_available is not None, after=after_sku is not None
        )
        given = (query.max_available, after_sku)
        args = (query.limit + 1, *(value for value in given if value is not None))
        page = await self._page(
            "stock", query, sql, args, queries.STOCK_PAGE_ORDER, queries.stock_page
        )
        return JsonAnswer(page)

    async def _events(self, request: Request, stream: str, subject: str, what: str) -> Response:
        query = query_of(ReadYourWrites, request)
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
        `stream_last_seq` is the partition's last event, its lag the sequences between),
        with whether the view is paused and its latest replay asked for by the admin API."""
        known = {row["name"]: row for row in await self._views.rows(queries.CHECKPOINTS)}
        paused = {row["name"] for row in await self._views.rows(queries.PAUSED_VIEWS)}
        replays = {
            row["projection"]: {
                "id": str(row["id"]),
                **{key: row[key] for key in ("state", "done", "total")},
            }
            for row in await self._views.rows(queries.LATEST_REPLAYS)
        }
        items = []
        for name, stream in self._waiting.streams.items():
            last = await last_sequence(self._nc, stream, timeout=self._timeout)
            for checkpoint, partition in self._waiting.rows(name):
                row = known.get(checkpoint)
                position, state = (row["position"], row["state"]) if row else (0, "live")
                audit = (
                    {key: row[key] for key in ("applied", "dead", "ignored", "complete")}
                    if row
                    else {"applied": 0, "dead": 0, "ignored": 0, "complete": True}
                )
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
                        **audit,
                        "paused": name in paused,
                        "replay": replays.get(name),
                    }
                )
        return items
