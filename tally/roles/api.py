"""`tally api`: the HTTP process (commands, queries, operations)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from nats.aio.client import Client as NATS
from starlette.applications import Starlette

from read_side.http.openapi import openapi_paths as query_openapi
from tally.http.app import create_api_app
from tally.http.ops import Check, CheckResult
from tally.metrics import Metrics
from tally.nats_auth import nats_auth_options
from tally.nats_connection import connect_nats
from tally.redaction import host_port
from tally.roles.lifecycle import serve_http
from tally.roles.read_side import query_side
from tally.roles.security import api_auth, command_limit
from tally.roles.write_side import command_routes
from tally.settings import Settings
from write_side.http.openapi import openapi_paths as command_openapi


def nats_check(nc: NATS) -> Check:
    async def check() -> CheckResult:
        if not nc.is_connected:
            return False, "not connected"
        await nc.flush(timeout=1)
        # host:port only: NATS_URL may carry user:password@
        return True, host_port(nc.connected_url.geturl()) if nc.connected_url else "connected"

    return check


@contextlib.asynccontextmanager
async def api_app(
    settings: Settings,
    extra_checks: Mapping[str, Check] | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[Starlette]:
    """The API app with its connections open; they close when the context ends.
    `extra_checks` and `metrics` may come from other roles of the same process
    (`tally up`: the payment breaker, the fulfilment metrics)."""
    nc = await connect_nats(
        settings.nats_servers,
        name="tally-api",
        connect_timeout=settings.nats_connect_timeout,
        **nats_auth_options(settings),
    )
    stack = contextlib.AsyncExitStack()
    try:
        metrics = metrics or Metrics()
        commands = await command_routes(nc, settings, observer=metrics)
        queries = await stack.enter_async_context(query_side(nc, settings))
        yield create_api_app(
            routes=[*commands.routes(), *queries.routes],
            checks={"nats": nats_check(nc), **queries.checks, **(extra_checks or {})},
            metrics=metrics,
            openapi=[command_openapi, query_openapi],
            access_log=settings.access_log,
            auth=api_auth(settings),
            command_limit=command_limit(settings),
        )
    finally:
        await stack.aclose()
        await nc.drain()


async def run_api(
    settings: Settings,
    stop: asyncio.Event,
    extra_checks: Mapping[str, Check] | None = None,
    metrics: Metrics | None = None,
) -> None:
    async with api_app(settings, extra_checks, metrics) as app:
        await serve_http(app, settings, stop)
