"""Joins the sides' routes into the one API app, with the shared middleware, the one
table of error answers (`errors.py`) and the pages that problem types point to."""

from collections.abc import Mapping, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from http_edge.pages import problem_pages_route
from tally.http.auth import ApiAuth, RequireTokens
from tally.http.correlation import CorrelationIdMiddleware
from tally.http.errors import API_PAGES, exception_handlers
from tally.http.observe import ObserveRequests, metrics_route
from tally.http.openapi import PathsProvider, openapi_routes
from tally.http.ops import Check, ops_routes
from tally.http.ratelimit import LimitCommands, RateLimiter
from tally.metric_probes import readiness_probe
from tally.metrics import Metrics


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
    metrics.add_probe(readiness_probe(checks, metrics))
    guards = [Middleware(RequireTokens, auth=auth)] if auth else []
    if command_limit is not None:
        guards.append(Middleware(LimitCommands, limiter=command_limit))
    return Starlette(
        debug=debug,
        routes=[
            *routes,
            *ops_routes(checks),
            metrics_route(metrics),
            problem_pages_route(API_PAGES),
            *openapi_routes(
                openapi, secure=auth.secure_openapi if auth else None, problem_codes=list(API_PAGES)
            ),
        ],
        middleware=[
            Middleware(CorrelationIdMiddleware),
            Middleware(ObserveRequests, metrics=metrics, log_requests=access_log),
            *guards,
        ],
        exception_handlers=exception_handlers(),
    )
