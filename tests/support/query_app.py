"""The query routes served in-process (httpx over ASGI) in the API app, as `tally api`
builds them (the app maps the read side's errors to their answers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from nats.aio.client import Client as NATS
from pydantic import SecretStr

from tally.bootstrap import bootstrap
from tally.http.app import create_api_app
from tally.settings import Settings


def settings_for(nats_url: str, database_url: str, **overrides: object) -> Settings:
    return Settings(nats_url=nats_url, database_url=SecretStr(database_url), **overrides)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def query_client(
    nc: NATS, nats_url: str, database_url: str, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(nats_url, database_url, **overrides)
    async with bootstrap(settings, name="test-api", nats=nc) as parts:
        side = await parts.query_side()
        app = create_api_app(routes=side.routes, checks=side.checks)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
            yield client
