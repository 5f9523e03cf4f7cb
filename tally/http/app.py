"""Joins the sides' routes into the one API app: a route table (`route_table.py`: a dict in
front of Starlette's router) with every route (commands, queries, operations, OpenAPI,
the pages that problem types point to), behind the one
ASGI layer (`edge.py`) that applies the correlation id, tokens, rate limit, error table,
metrics and access log."""

from collections.abc import Mapping, Sequence

from starlette.routing import BaseRoute

from http_edge.pages import problem_pages_route
from tally.http.auth import ApiAuth
from tally.http.edge import Edge
from tally.http.errors import API_PAGES
from tally.http.observe import metrics_route
from tally.http.openapi import PathsProvider, openapi_routes
from tally.http.ops import Check, ops_routes
from tally.http.ratelimit import RateLimiter
from tally.http.route_table import route_table
from tally.metric_probes import readiness_probe
from tally.metrics import Metrics


def create_api_app(
    *,
    routes: Sequence[BaseRoute],
    checks: Mapping[str, Check],
    metrics: Metrics | None = None,
    openapi: Sequence[PathsProvider] = (),
    access_log: bool = False,
    auth: ApiAuth | None = None,
    command_limit: RateLimiter | None = None,
    role_metrics: Mapping[str, str] | None = None,
) -> Edge:
    """`auth` None: the API is open; `command_limit` None: commands are not rate limited;
    `role_metrics`: the other role processes' /metrics URLs by role (`tally up`)."""
    metrics = metrics or Metrics()
    metrics.add_probe(readiness_probe(checks, metrics))
    router = route_table(
        [
            *routes,
            *ops_routes(checks),
            metrics_route(metrics, role_metrics),
            problem_pages_route(API_PAGES),
            *openapi_routes(
                openapi, secure=auth.secure_openapi if auth else None, problem_codes=list(API_PAGES)
            ),
        ]
    )
    return Edge(
        router,
        metrics=metrics,
        access_log=access_log,
        auth=auth,
        command_limit=command_limit,
    )
