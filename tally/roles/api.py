"""`tally api`: the HTTP process (commands, queries, operations)."""

import asyncio
import logging
import os
from collections.abc import Mapping

from starlette.types import ASGIApp

from read_side.http.openapi import openapi_paths as query_openapi
from tally.admin.dead_letter_routes import DeadLetterRoutes
from tally.admin.openapi import openapi_paths as admin_openapi
from tally.admin.projection_routes import ProjectionRoutes
from tally.bootstrap import Parts, bootstrap
from tally.checks import nats_check, published_breaker_check
from tally.http.app import create_api_app
from tally.nats_drift import require_no_drift
from tally.ops.feed import OpsFeed
from tally.ops.routes import ops_page_routes
from tally.roles.heap import settle_heap
from tally.roles.lifecycle import serve_http
from tally.roles.security import api_auth, command_limit
from tally.roles.supervisor import Child, Supervisor
from tally.settings import Settings
from write_side.http.openapi import openapi_paths as command_openapi

log = logging.getLogger("tally.api")


async def api_app(
    parts: Parts,
    stop: asyncio.Event | None = None,
    *,
    role_metrics: Mapping[str, str] | None = None,
) -> ASGIApp:
    """The API app over the process's parts; /ready also runs the checks other roles
    added to the parts; `role_metrics` (`tally up`): the other role processes' /metrics
    URLs by role, served with the API's own. `stop` ends the operations page's event
    streams (else the server waits for them as it stops)."""
    settings = parts.settings
    await require_no_drift((await parts.nats()).jetstream(), "api", settings)  # or stop
    commands = await parts.command_routes()
    queries = await parts.query_side()
    dead_letters = DeadLetterRoutes(parts.nats, settings.admin_database_dsn())
    feed = OpsFeed(parts.nats, queries.projection_states, parts.metrics)
    parts.on_close(feed.close)
    return create_api_app(
        routes=[
            *commands.routes(),
            *queries.routes,
            *dead_letters.routes(),
            *ProjectionRoutes(settings.admin_database_dsn()).routes(),
            *ops_page_routes(feed, stop),
        ],
        checks={"nats": nats_check(await parts.nats()), **queries.checks, **parts.checks},
        metrics=parts.metrics,
        openapi=[command_openapi, query_openapi, admin_openapi],
        access_log=settings.access_log,
        auth=api_auth(settings),
        command_limit=command_limit(settings),
        role_metrics=role_metrics,
    )


async def serve_api(
    parts: Parts,
    stop: asyncio.Event,
    *,
    reuse_port: bool = False,
    role_metrics: Mapping[str, str] | None = None,
) -> None:
    app = await api_app(parts, stop, role_metrics=role_metrics)
    tracing = parts.tracing()
    app = app if tracing is None else tracing.asgi(app)
    settle_heap()  # started: what is allocated from here on is per request
    await serve_http(app, parts.settings, stop, reuse_port=reuse_port)


async def run_api(
    settings: Settings,
    stop: asyncio.Event,
    *,
    reuse_port: bool = False,
    role_metrics: Mapping[str, str] | None = None,
    published_breaker: bool = False,
) -> None:
    """`published_breaker` (`tally up`): /ready also reports the payment breaker as the
    fulfilment process last published it."""
    async with bootstrap(settings, name="tally-api") as parts:
        if published_breaker:
            parts.checks["payment_breaker"] = published_breaker_check(await parts.nats())
        await serve_api(parts, stop, reuse_port=reuse_port, role_metrics=role_metrics)


def worker_children(settings: Settings, workers: int) -> list[Child]:
    """`tally api --workers N`: N API processes on one port (SO_REUSEPORT), each with its
    own NATS connection, state cache and pools; OCC keeps their appends correct."""
    args = ["api", "--host", settings.host, "--port", str(settings.port), "--reuse-port"]
    args += ["--data-dir", str(settings.data_dir)]
    env = dict(os.environ)
    return [Child(f"api-{n}", args, env) for n in range(1, workers + 1)]


async def run_api_workers(settings: Settings, stop: asyncio.Event, workers: int) -> None:
    log.info("API workers", extra={"workers": workers, "port": settings.port})
    await Supervisor(worker_children(settings, workers)).run(stop)
