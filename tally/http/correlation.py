"""X-Correlation-ID: taken from the request (made when absent), kept in `request.state`
and the logging context, and returned on the answer."""

from uuid import uuid4

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-correlation-id"
MAX_LENGTH = 200


def _valid(value: str) -> bool:
    return 0 < len(value) <= MAX_LENGTH and value.isprintable()


class CorrelationIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-correlation-id":
                given = value.decode("latin-1")
                break
        correlation_id = given if _valid(given) else str(uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Correlation-ID"] = correlation_id
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:  # tokens, not bound_contextvars(): that one is a generator, slower per request
            await self.app(scope, receive, send_with_header)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
