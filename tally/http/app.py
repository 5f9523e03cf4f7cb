"""Joins the sides' routes into the one API app, with the shared middleware and the
problem+json answers for routing errors."""

import json
import logging
from collections.abc import Mapping, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from tally.http.auth import ApiAuth, RequireTokens
from tally.http.correlation import CorrelationIdMiddleware
from tally.http.observe import ObserveRequests, metrics_route
from tally.http.openapi import PathsProvider, openapi_routes
from tally.http.ops import Check, ops_routes
from tally.http.ratelimit import LimitCommands, RateLimiter
from tally.metrics import Metrics

log = logging.getLogger("tally.http")
PROBLEM_BASE = "https://tally.dev/problems/"
CODES = {404: "not-found", 405: "method-not-allowed", 400: "bad-request"}


def _problem(status: int, code: str, title: str, detail: str) -> Response:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    return Response(json.dumps(body), status_code=status, media_type="application/problem+json")


async def _http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = CODES.get(error.status_code, "http-error")
    response = _problem(error.status_code, code, str(error.detail), str(error.detail))
    if error.headers:
        response.headers.update(error.headers)
    return response


async def _client_gone(request: Request, error: Exception) -> Response:
    """The client closed the connection before its body was read (a truncated upload):
    nobody is left to answer, and it is not a server error. 499, as nginx names it."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _problem(500, "internal-error", "Internal error", "see the server log")


def create_api_app(
    *,
    routes: Sequence[BaseRoute],
    checks: Mapping[str, Check],
    metrics: Metrics | None = None,
    openapi: Sequence[PathsProvider] = (),
    access_log: bool = False,
    debug: bool = False,
    auth: ApiAuth | None = None,
    command_limit: RateLimiter | None = None,
) -> Starlette:
    """`auth` None: the API is open; `command_limit` None: commands are not rate limited."""
    metrics = metrics or Metrics()
    guards = [Middleware(RequireTokens, auth=auth)] if auth else []
    if command_limit is not None:
        guards.append(Middleware(LimitCommands, limiter=command_limit))
    return Starlette(
        debug=debug,
        routes=[
            *routes,
            *ops_routes(checks),
            metrics_route(metrics),
            *openapi_routes(openapi, secure=auth.secure_openapi if auth else None),
        ],
        middleware=[
            Middleware(CorrelationIdMiddleware),
            Middleware(ObserveRequests, metrics=metrics, log_requests=access_log),
            *guards,
        ],
        exception_handlers={
            HTTPException: _http_exception,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
    )
