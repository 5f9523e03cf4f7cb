"""The five command routes of SPEC §3. Every one answers 202 with the position it wrote;
every refusal is raised and answered by the app's error table (`errors.py`)."""

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Generic, TypeVar
from uuid import uuid4

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from events.orders import OrderLine
from http_edge.correlation import request_correlation_id
from http_edge.params import ORDER_ID, SKU
from http_edge.problems import validation_problem
from write_side.aggregates import ORDER, STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain import order, stock
from write_side.errors import StoreUnavailable
from write_side.http import schemas
from write_side.http.body import parse_body, read_body
from write_side.http.commands import (
    ADJUST_STOCK,
    CANCEL_ORDER,
    PLACE_ORDER,
    RECEIVE_STOCK,
    SHIP_ORDER,
    CommandRoute,
)
from write_side.http.deadline import Deadline
from write_side.http.idempotent import IdempotentCommands, request_client, request_key
from write_side.ids import order_id, scoped_key

M = TypeVar("M", bound=BaseModel)
Action = Callable[[Request, M, Metadata], Awaitable[Response]]  # takes its route's body


def _answer(model: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """202 with the answer serialized once, straight to JSON bytes."""
    body = model.__pydantic_serializer__.to_json(model)
    return Response(body, status_code=202, media_type="application/json", headers=headers)


class CommandEndpoint(Generic[M]):
    """One command route, as a plain ASGI app (no per-request wrapping by Starlette's
    `request_response`: what it raises is answered by the app's error table): read and
    check the request, then run its action under the deadline, through the
    Idempotency-Key store when the request has a key."""

    def __init__(
        self,
        route: CommandRoute[M],
        action: Action[M],
        idempotency: IdempotentCommands,
        deadline: float,
    ) -> None:
        self._route = route
        self._action = action
        self._idempotency = idempotency
        self._deadline = deadline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        raw = await read_body(request)
        key = request_key(request)
        if key is not None:  # the client's own key (its token's, when tokens are on)
            key = scoped_key(request_client(request), key)
        meta = Metadata(correlation_id=request_correlation_id(request), idempotency_key=key)

        async def run() -> Response:
            return await self._run(request, raw, meta)

        if key is None:
            answer = await run()
        else:
            answer = await self._idempotency.run(request, key, raw, run)
        await answer(scope, receive, send)

    async def _run(self, request: Request, raw: bytes, meta: Metadata) -> Response:
        body = parse_body(
            self._route.body, raw, empty_is_empty_object=self._route.empty_body_is_empty_object
        )
        try:
            with Deadline(self._deadline):
                return await self._action(request, body, meta)
        except ValidationError as error:  # an event the domain could not build from the input
            raise validation_problem(error) from None
        except TimeoutError:
            raise StoreUnavailable(f"no answer within {self._deadline} s") from None


class CommandRoutes:
    def __init__(
        self,
        service: CommandService,
        idempotency: IdempotentCommands,
        *,
        id_secret: bytes,
        deadline: float,
    ) -> None:
        self._service = service
        self._idempotency = idempotency
        self._id_secret = id_secret
        self._deadline = deadline

    def routes(self) -> list[Route]:
        return [
            self._route(PLACE_ORDER, self._place_order),
            self._route(CANCEL_ORDER, self._cancel_order),
            self._route(SHIP_ORDER, self._ship_order),
            self._route(RECEIVE_STOCK, self._receive_stock),
            self._route(ADJUST_STOCK, self._adjust_stock),
        ]

    def _route(self, route: CommandRoute[M], action: Action[M]) -> Route:
        """The type checker holds `action` to the body model of `route`."""
        endpoint = CommandEndpoint(route, action, self._idempotency, self._deadline)
        return Route(route.path, endpoint, methods=["POST"])

    async def _place_order(
        self, request: Request, body: schemas.PlaceOrderBody, meta: Metadata
    ) -> Response:
        if meta.idempotency_key is not None:  # the same order again for a repeat
            new_id = order_id(self._id_secret, meta.idempotency_key)
        else:
            new_id = str(uuid4())
        lines = tuple(
            OrderLine(sku=line.sku, quantity=line.quantity, unit_price=Decimal(line.unit_price))
            for line in body.lines
        )
        command = order.PlaceOrder(
            customer_id=body.customer_id, currency=body.currency, lines=lines
        )
        fresh = meta.idempotency_key is None  # a uuid4 just made: nothing to read
        result = await self._service.handle(ORDER, new_id, command, meta, new=fresh)
        answer = schemas.OrderPlacedAnswer(order_id=new_id, position=str(result.position))
        return _answer(answer, {"Location": f"/orders/{new_id}"})

    async def _cancel_order(
        self, request: Request, body: schemas.CancelOrderBody, meta: Metadata
    ) -> Response:
        order_id = str(ORDER_ID(request))
        result = await self._service.handle(ORDER, order_id, order.CancelOrder(body.reason), meta)
        return _answer(schemas.OrderCommandAnswer(order_id=order_id, position=str(result.position)))

    async def _ship_order(
        self, request: Request, body: schemas.ShipOrderBody, meta: Metadata
    ) -> Response:
        order_id = str(ORDER_ID(request))
        result = await self._service.handle(ORDER, order_id, order.ShipOrder(), meta)
        return _answer(schemas.OrderCommandAnswer(order_id=order_id, position=str(result.position)))

    async def _receive_stock(
        self, request: Request, body: schemas.ReceiveStockBody, meta: Metadata
    ) -> Response:
        sku = SKU(request)
        result = await self._service.handle(
            STOCK_ITEM, sku, stock.ReceiveStock(body.quantity), meta
        )
        return _answer(schemas.StockCommandAnswer(sku=sku, position=str(result.position)))

    async def _adjust_stock(
        self, request: Request, body: schemas.AdjustStockBody, meta: Metadata
    ) -> Response:
        sku = SKU(request)
        result = await self._service.handle(
            STOCK_ITEM, sku, stock.AdjustStock(body.delta, body.reason), meta
        )
        return _answer(schemas.StockCommandAnswer(sku=sku, position=str(result.position)))
