"""The five command routes of SPEC §3. Every one answers 202 with the position it wrote;
every refusal is raised and answered by the app's error table (`errors.py`)."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from events.ids import random_uuid_text
from http_edge.correlation import scope_correlation_id
from http_edge.params import ORDER_ID, SKU
from http_edge.problems import validation_problem
from write_side.aggregates import ORDER, STOCK_ITEM
from write_side.command_service import CommandService, Metadata
from write_side.domain import order, stock
from write_side.errors import StoreUnavailable
from write_side.http import answer, schemas
from write_side.http.answer import Answer
from write_side.http.body import parse_body, receive_body
from write_side.http.commands import (
    ADJUST_STOCK,
    CANCEL_ORDER,
    PLACE_ORDER,
    RECEIVE_STOCK,
    SHIP_ORDER,
    CommandRoute,
)
from write_side.http.deadline import Deadlines
from write_side.http.idempotent import IdempotentCommands, request_client, valid_key
from write_side.ids import order_id, scoped_key

M = TypeVar("M", bound=BaseModel)
PathParams = Mapping[str, str]
Action = Callable[[PathParams, M, Metadata], Awaitable[Answer]]  # takes its route's body
_LENGTH = b"content-length"
_KEY = b"idempotency-key"


class CommandEndpoint(Generic[M]):
    """One command route, as a plain ASGI app (no Request or Response objects: the two
    headers it reads are looked up in the scope, the answer is written as bytes; what it
    raises is answered by the app's error table): read and check the request, then run
    its action under the deadline, through the Idempotency-Key store when the request has
    a key."""

    def __init__(
        self,
        route: CommandRoute[M],
        action: Action[M],
        idempotency: IdempotentCommands,
        deadlines: Deadlines,
        deadline: float,
    ) -> None:
        self._route = route
        self._action = action
        self._idempotency = idempotency
        self._deadlines = deadlines
        self._deadline = deadline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length: bytes | None = None
        given: bytes | None = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers
            if name == _LENGTH and length is None:
                length = value
            elif name == _KEY and given is None:
                given = value
        raw = await receive_body(receive, None if length is None else length.decode("latin-1"))
        key = valid_key(None if given is None else given.decode("latin-1"))
        if key is not None:  # the client's own key (its token's, when tokens are on)
            key = scoped_key(request_client(scope), key)
        meta = Metadata(correlation_id=scope_correlation_id(scope), idempotency_key=key)
        params: PathParams = scope["path_params"]
        if key is None:  # no closure, one coroutine less
            sent = await self._run(params, raw, meta)
        else:

            async def run() -> Answer:
                return await self._run(params, raw, meta)

            sent = await self._idempotency.run(scope, key, raw, run)
        await sent(scope, receive, send)

    async def _run(self, params: PathParams, raw: bytes, meta: Metadata) -> Answer:
        body = parse_body(
            self._route.body, raw, empty_is_empty_object=self._route.empty_body_is_empty_object
        )
        try:
            with self._deadlines():
                return await self._action(params, body, meta)
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
        self._deadlines = Deadlines(deadline)  # one queue and timer for every route's

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
        endpoint = CommandEndpoint(
            route, action, self._idempotency, self._deadlines, self._deadline
        )
        return Route(route.path, endpoint, methods=["POST"])

    async def _place_order(
        self, params: PathParams, body: schemas.PlaceOrderBody, meta: Metadata
    ) -> Answer:
        if meta.idempotency_key is not None:  # the same order again for a repeat
            new_id = order_id(self._id_secret, meta.idempotency_key)
        else:
            new_id = random_uuid_text()
        command = order.PlaceOrder(  # the body's lines are the event's already
            customer_id=body.customer_id, currency=body.currency, lines=tuple(body.lines)
        )
        fresh = meta.idempotency_key is None  # a uuid4 just made: nothing to read
        result = await self._service.handle(ORDER, new_id, command, meta, new=fresh)
        return answer.order_placed(new_id, str(result.position))

    async def _cancel_order(
        self, params: PathParams, body: schemas.CancelOrderBody, meta: Metadata
    ) -> Answer:
        order_id = str(ORDER_ID.of(params))
        result = await self._service.handle(ORDER, order_id, order.CancelOrder(body.reason), meta)
        return answer.order_command(order_id, str(result.position))

    async def _ship_order(
        self, params: PathParams, body: schemas.ShipOrderBody, meta: Metadata
    ) -> Answer:
        order_id = str(ORDER_ID.of(params))
        result = await self._service.handle(ORDER, order_id, order.ShipOrder(), meta)
        return answer.order_command(order_id, str(result.position))

    async def _receive_stock(
        self, params: PathParams, body: schemas.ReceiveStockBody, meta: Metadata
    ) -> Answer:
        sku = SKU.of(params)
        result = await self._service.handle(
            STOCK_ITEM, sku, stock.ReceiveStock(body.quantity), meta
        )
        return answer.stock_command(sku, str(result.position))

    async def _adjust_stock(
        self, params: PathParams, body: schemas.AdjustStockBody, meta: Metadata
    ) -> Answer:
        sku = SKU.of(params)
        result = await self._service.handle(
            STOCK_ITEM, sku, stock.AdjustStock(body.delta, body.reason), meta
        )
        return answer.stock_command(sku, str(result.position))
