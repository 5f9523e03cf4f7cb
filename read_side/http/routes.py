"""The query routes of SPEC §3: views from PostgreSQL through the pool, events straight
from JetStream, read-your-writes with `after`/`wait`, and GET /projections.

Every database or NATS call is bounded by `timeout` seconds; when a dependency is down
the answer is 503 within that bound, never a hang and never a 500.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import UUID

import asyncpg
import nats.errors
from nats.aio.client import Client as NATS
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from events.subjects import ORDERS, STOCK, is_valid_sku
from read_side import queries
from read_side.cursors import InvalidCursor, parse_order_cursor, parse_stock_cursor
from read_side.http import params
from read_side.http.problems import (
    Problem,
    invalid,
    lagging,
    not_found,
    unavailable,
    wrong_stream,
)
from read_side.positions import ProjectionPositions
from read_side.stream_reader import StreamReadError, describe, read_subject

Handler = Callable[[Request], Awaitable[Response]]
DEFAULT_PROJECTIONS: Mapping[str, str] = {"orders": ORDERS, "stock": STOCK}
_DOWN = (
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
    nats.errors.Error,
    StreamReadError,
)


def _order_id(request: Request) -> UUID:
    try:
        return UUID(request.path_params["order_id"])
    except ValueError:
        raise not_found("no such order") from None


def _sku(request: Request) -> str:
    sku: str = request.path_params["sku"]
    if not is_valid_sku(sku):
        raise invalid("sku", "1-64 characters of A-Z a-z 0-9 _ -", "string_pattern_mismatch")
    return sku


class QueryRoutes:
    def __init__(
        self,
        engine: AsyncEngine,
        nc: NATS,
        positions: ProjectionPositions,
        *,
        timeout: float = 1.5,
        projections: Mapping[str, str] = DEFAULT_PROJECTIONS,
    ) -> None:
        self._engine = engine
        self._nc = nc
        self._positions = positions
        self._timeout = timeout
        self._projections = dict(projections)

    def routes(self) -> list[Route]:
        get = ["GET"]
        return [
            Route("/orders", self._guard(self.list_orders), methods=get),
            Route("/orders/{order_id}", self._guard(self.get_order), methods=get),
            Route("/orders/{order_id}/events", self._guard(self.order_events), methods=get),
            Route("/stock", self._guard(self.list_stock), methods=get),
            Route("/stock/{sku}", self._guard(self.get_stock), methods=get),
            Route("/stock/{sku}/events", self._guard(self.stock_events), methods=get),
            Route("/projections", self._guard(self.list_projections), methods=get),
        ]

    def _guard(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as problem:
                return problem.response()
            except _DOWN as error:
                return unavailable(f"{type(error).__name__}: {error}"[:300]).response()

        return endpoint

    async def _read(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        async with asyncio.timeout(self._timeout), self._engine.connect() as conn:
            return await work(conn)

    async def _read_direct(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        """`work` on the pooled connection's asyncpg driver, outside a transaction."""
        async with asyncio.timeout(self._timeout), self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            return await work(raw.driver_connection)

    async def _after(self, query: params.ReadYourWrites, projection: str) -> None:
        """Wait until `projection` has applied `after`; 400 for another stream's position."""
        position = query.position
        if position is None:
            return
        stream = self._projections[projection]
        if position.stream != stream:
            raise wrong_stream(
                f"{position} is in {position.stream}; this view is built from {stream}"
            )

        async def reread() -> int:
            return int(await self._read(lambda conn: queries.checkpoint(conn, projection)))

        if not await self._positions.wait_for(projection, position.seq, query.wait, reread):
            seen = self._positions.known(projection)
            raise lagging(f"{projection} has applied {stream}:{seen}, not yet {position}")

    async def get_order(self, request: Request) -> Response:
        query = params.parse_query(params.ReadYourWrites, request.query_params)
        order_id = _order_id(request)
        await self._after(query, "orders")
        found = await self._read_direct(lambda driver: queries.get_order_direct(driver, order_id))
        if found is None:
            raise not_found(f"no order {order_id}")
        return JSONResponse(found)

    async def list_orders(self, request: Request) -> Response:
        query = params.parse_query(params.OrderListQuery, request.query_params)
        try:
            before = parse_order_cursor(query.cursor) if query.cursor else None
        except InvalidCursor as error:
            raise invalid("cursor", str(error), "invalid_cursor") from None
        await self._after(query, "orders")
        items, cursor = await self._read(
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
        query = params.parse_query(params.ReadYourWrites, request.query_params)
        sku = _sku(request)
        await self._after(query, "stock")
        found = await self._read(lambda conn: queries.get_stock(conn, sku))
        if found is None:
            raise not_found(f"no stock item {sku}")
        return JSONResponse(found)

    async def list_stock(self, request: Request) -> Response:
        query = params.parse_query(params.StockListQuery, request.query_params)
        try:
            after_sku = parse_stock_cursor(query.cursor) if query.cursor else None
        except InvalidCursor as error:
            raise invalid("cursor", str(error), "invalid_cursor") from None
        await self._after(query, "stock")
        items, cursor = await self._read(
            lambda conn: queries.list_stock(
                conn, limit=query.limit, max_available=query.max_available, after_sku=after_sku
            )
        )
        return JSONResponse({"items": items, "next_cursor": cursor})

    async def _events(self, request: Request, stream: str, subject: str, what: str) -> Response:
        query = params.parse_query(params.ReadYourWrites, request.query_params)
        if query.position is not None and query.position.stream != stream:
            raise wrong_stream(f"{query.position} is not a position of {stream}")
        async with asyncio.timeout(self._timeout):
            found = await read_subject(self._nc, stream, subject, timeout=self._timeout)
        if not found:
            raise not_found(f"no {what}")
        items = [describe(stream, subject, seq, data, headers) for seq, data, headers in found]
        return JSONResponse({"items": items})

    async def order_events(self, request: Request) -> Response:
        order_id = _order_id(request)
        return await self._events(request, ORDERS, f"orders.{order_id}", f"order {order_id}")

    async def stock_events(self, request: Request) -> Response:
        sku = _sku(request)
        return await self._events(request, STOCK, f"stock.{sku}", f"stock item {sku}")

    async def list_projections(self, request: Request) -> Response:
        return JSONResponse({"items": await self.projection_states()})

    async def projection_states(self) -> list[dict[str, Any]]:
        known = await self._read(queries.checkpoints)
        js = self._nc.jetstream(timeout=self._timeout)
        items = []
        for name, stream in self._projections.items():
            _, position, state = known.get(name, (stream, 0, "live"))
            async with asyncio.timeout(self._timeout):
                last = int((await js.stream_info(stream)).state.last_seq)
            lag = max(0, last - position)
            if state == "live" and lag > 0:
                state = "catching-up"
            items.append(
                {
                    "name": name,
                    "stream": stream,
                    "position": position,
                    "stream_last_seq": last,
                    "lag": lag,
                    "state": state,
                }
            )
        return items
