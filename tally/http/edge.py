"""The API's one ASGI layer, around the router: correlation id, bearer tokens, the command
rate limit, the error table, metrics and the access log, in one pass per request.

It replaces Starlette's application stack (ServerErrorMiddleware, ExceptionMiddleware) and
four middlewares, each of which wrapped `send` and cost a coroutine frame or two a request:
at a few thousand commands a second that was ~15 % of the API's CPU (docs/benchmarks.md).
What each did is unchanged:

- X-Correlation-ID (the rule is `http_edge.correlation`'s) is taken from the request or
  made, kept in `scope["state"]` and the logging context, and returned on every answer;
- tokens and scopes are checked before any route runs (`auth.py`), then the per-client
  command rate limit (`ratelimit.py`);
- whatever a route raises is answered from the one error table (`errors.py`), also
  Starlette's routing errors (404, 405: `scope["app"]` makes the router raise them);
- one observation per request: `tally_http_requests` / `tally_http_request_seconds` by
  route template (never the raw path) and, when on, one access-log line.
"""

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from http_edge.correlation import HEADER, correlation_id_for
from http_edge.problems import Problem
from tally.http.auth import ApiAuth, refusal_for
from tally.http.errors import error_response
from tally.http.ratelimit import READ_METHODS, RateLimiter, limit_refusal
from tally.metrics import Metrics

access_log = logging.getLogger("tally.access")
RAW_HEADER = HEADER.lower().encode()


def _structlog_var(name: str) -> contextvars.ContextVar[Any]:
    """The context variable structlog keeps `name` in (what `bind_contextvars(name=...)`
    sets), found once: setting it directly costs a third of a bind and reset."""
    token = structlog.contextvars.bind_contextvars(**{name: ...})[name]
    token.var.reset(token)
    return token.var


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        access_log: bool = False,
        auth: ApiAuth | None = None,
        command_limit: RateLimiter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._log_requests = access_log
        self._auth = auth
        self._limit = command_limit
        self._clock = clock
        self._correlation = _structlog_var("correlation_id")

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes behind the layer (its router's)."""
        return list(getattr(self.app, "routes", []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        started = self._clock()
        given = ""
        for name, value in scope["headers"]:
            if name == RAW_HEADER:
                given = value.decode("latin-1")
                break
        correlation_id = correlation_id_for(given)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        scope["app"] = self  # the router raises 404/405 for the error table to answer
        echo = (RAW_HEADER, correlation_id.encode("latin-1", "replace"))
        status = 500
        responded = False

        def send_answer(message: Message) -> Awaitable[None]:
            """`send`, the correlation id added to the answer's headers (a plain function
            handing back `send`'s awaitable: no coroutine of its own for each message)."""
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", ()), echo]
            return send(message)

        bound = self._correlation.set(correlation_id)
        try:
            refusal = self._guard(scope)
            if refusal is not None:
                await refusal.response()(scope, receive, send_answer)
            else:
                await self.app(scope, receive, send_answer)
        except Exception as error:
            if responded:
                raise  # half an answer is out: only closing the connection is left
            answer = error_response(error, scope["method"], scope["path"])
            await answer(scope, receive, send_answer)
        finally:
            self._correlation.reset(bound)
            self._observe(scope, status, self._clock() - started)

    def _guard(self, scope: Scope) -> Problem | None:
        """The refusal of a request that may not reach a route: no token or the wrong
        one (401/403), or over its client's command rate (429)."""
        if self._auth is not None:
            refusal = refusal_for(self._auth, scope)
            if refusal is not None:
                return refusal
        if self._limit is not None and scope["method"] not in READ_METHODS:
            return limit_refusal(self._limit, scope)
        return None

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = route.path if isinstance(route, Route) else "unmatched"
        method = scope["method"]
        self._metrics.request_observed(method, template, status, elapsed)
        if self._log_requests:
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )
