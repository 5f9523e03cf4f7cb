"""X-Correlation-ID (the rule is `http_edge.correlation`'s): taken from the request, made
when absent or invalid, kept in `request.state` and the logging context, and returned on
the answer."""

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from http_edge.correlation import HEADER, correlation_id_for

RAW_HEADER = HEADER.lower().encode()


class CorrelationIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == RAW_HEADER:
                given = value.decode("latin-1")
                break
        correlation_id = correlation_id_for(given)
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = correlation_id
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        try:  # tokens, not bound_contextvars(): that one is a generator, slower per request
            await self.app(scope, receive, send_with_header)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
