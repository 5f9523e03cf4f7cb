"""The five command routes of SPEC §3. Every one answers 202 with the position it wrote."""

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from events.orders import OrderLine
from events.subjects import is_valid_sku
from write_side.aggregates import ORDER, STOCK_ITEM
from write_side.command_service import EVENT_ID_NAMESPACE, CommandService, Metadata
from write_side.domain import order, stock
from write_side.errors import WriteSideError
from write_side.http.body import parse_json, read_body, validate
from write_side.http.idempotent import IdempotentCommands, request_key
from write_side.http.problems import (
    HttpProblem,
    from_write_side_error,
    unavailable,
    validation_problem,
)
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

M = TypeVar("M", bound=BaseModel)
Action = Callable[[Request, Any, Metadata], Awaitable[Response]]


def correlation_id(request: Request) -> str:
    known = getattr(request.state, "correlation_id", None)
    if isinstance(known, str) and known:
        return known
    given = request.headers.get("x-correlation-id", "")
    return given if 0 < len(given) <= 200 and given.isprintable() else str(uuid4())


def _order_id(request: Request) -> str:
    try:
        return str(UUID(request.path_params["order_id"]))
    except ValueError:
        raise HttpProblem(404, "not-found", "Not found", "no such order") from None


def _sku(request: Request) -> str:
    sku: str = request.path_params["sku"]
    if not is_valid_sku(sku):
        raise HttpProblem(
            422,
            "validation-failed",
            "The request is not valid",
            "invalid SKU",
            errors=[
                {
                    "field": "sku",
                    "pointer": "#/sku",
                    "message": "1-64 characters of A-Z a-z 0-9 _ -",
                }
            ],
        )
    return sku


def _answer(model: BaseModel, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(model.model_dump(mode="json"), status_code=202, headers=headers)


class CommandRoutes:
    def __init__(
        self,
        service: CommandService,
        idempotency: IdempotentCommands,
        *,
        deadline: float = 10.0,
    ) -> None:
        self._service = service
        self._idempotency = idempotency
        self._deadline = deadline

    def routes(self) -> list[Route]:
        return [
            Route("/orders", self._endpoint(PlaceOrderBody, self._place_order), methods=["POST"]),
            Route(
                "/orders/{order_id}/cancel",
                self._endpoint(CancelOrderBody, self._cancel_order, {}),
                methods=["POST"],
            ),
            Route(
                "/orders/{order_id}/ship",
                self._endpoint(ShipOrderBody, self._ship_order, {}),
                methods=["POST"],
            ),
            Route(
                "/stock/{sku}/receive",
                self._endpoint(ReceiveStockBody, self._receive_stock),
                methods=["POST"],
            ),
            Route(
                "/stock/{sku}/adjust",
                self._endpoint(AdjustStockBody, self._adjust_stock),
                methods=["POST"],
            ),
        ]

    def _endpoint(
        self, model: type[M], action: Action, empty_is: Any = None
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await read_body(request)
                key = request_key(request)
            except HttpProblem as problem:
                return problem.response()
            meta = Metadata(correlation_id=correlation_id(request), idempotency_key=key)

            async def run() -> Response:
                return await self._run(request, model, action, raw, empty_is, meta)

            if key is None:
                return await run()
            return await self._idempotency.run(request, key, raw, run)

        return endpoint

    async def _run(
        self,
        request: Request,
        model: type[M],
        action: Action,
        raw: bytes,
        empty_is: Any,
        meta: Metadata,
    ) -> Response:
        try:
            body = validate(model, parse_json(raw, empty_is=empty_is))
            async with asyncio.timeout(self._deadline):
                return await action(request, body, meta)
        except HttpProblem as problem:
            return problem.response()
        except ValidationError as error:  # an event the domain could not build from the input
            return validation_problem(error).response()
        except WriteSideError as error:
            return from_write_side_error(error).response()
        except TimeoutError:
            return unavailable(f"no answer within {self._deadline} s").response()

    async def _place_order(
        self, request: Request, body: PlaceOrderBody, meta: Metadata
    ) -> Response:
        if meta.idempotency_key is not None:
            order_id = str(uuid5(EVENT_ID_NAMESPACE, f"order:{meta.idempotency_key}"))
        else:
            order_id = str(uuid4())
        lines = tuple(
            OrderLine(sku=line.sku, quantity=line.quantity, unit_price=Decimal(line.unit_price))
            for line in body.lines
        )
        command = order.PlaceOrder(
            customer_id=body.customer_id, currency=body.currency, lines=lines
        )
        fresh = meta.idempotency_key is None  # a uuid4 just made: nothing to read
        result = await self._service.handle(ORDER, order_id, command, meta, new=fresh)
        answer = OrderPlacedAnswer(order_id=order_id, position=str(result.position))
        return _answer(answer, {"Location": f"/orders/{order_id}"})

    async def _cancel_order(
        self, request: Request, body: CancelOrderBody, meta: Metadata
    ) -> Response:
        order_id = _order_id(request)
        result = await self._service.handle(ORDER, order_id, order.CancelOrder(body.reason), meta)
        return _answer(OrderCommandAnswer(order_id=order_id, position=str(result.position)))

    async def _ship_order(self, request: Request, body: ShipOrderBody, meta: Metadata) -> Response:
        order_id = _order_id(request)
        result = await self._service.handle(ORDER, order_id, order.ShipOrder(), meta)
        return _answer(OrderCommandAnswer(order_id=order_id, position=str(result.position)))

    async def _receive_stock(
        self, request: Request, body: ReceiveStockBody, meta: Metadata
    ) -> Response:
        sku = _sku(request)
        result = await self._service.handle(
            STOCK_ITEM, sku, stock.ReceiveStock(body.quantity), meta
        )
        return _answer(StockCommandAnswer(sku=sku, position=str(result.position)))

    async def _adjust_stock(
        self, request: Request, body: AdjustStockBody, meta: Metadata
    ) -> Response:
        sku = _sku(request)
        result = await self._service.handle(
            STOCK_ITEM, sku, stock.AdjustStock(body.delta, body.reason), meta
        )
        return _answer(StockCommandAnswer(sku=sku, position=str(result.position)))
