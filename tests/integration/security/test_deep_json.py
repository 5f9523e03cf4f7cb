"""Deeply nested JSON is malformed input, never a RecursionError: a command body (with or
without an Idempotency-Key) answers 400 `malformed-json`, a cursor 422, and nothing is
logged as an error (it used to be a 500 with two tracebacks)."""

import base64
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.client import Client as NATS

from support.query_app import settings_for
from tally.bootstrap import bootstrap
from tally.http.app import create_api_app
from tally.roles.database import run_alembic
from tally.roles.migrate import run_migrate

pytestmark = pytest.mark.integration
DEEP = 100_000
BODIES = {
    "arrays": b"[" * DEEP + b"]" * DEEP,
    "objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "unclosed": b"[" * DEEP,
}


@pytest.fixture
async def api(nc: NATS, nats_url: str, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await run_alembic(database_url)
    settings = settings_for(nats_url, database_url)
    await run_migrate(settings)
    async with bootstrap(settings, name="test-api", nats=nc) as parts:
        side = await parts.query_side()
        commands = await parts.command_routes()
        app = create_api_app(routes=[*commands.routes(), *side.routes], checks={})
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
            yield client


@pytest.mark.parametrize("shape", list(BODIES))
@pytest.mark.parametrize("key", [None, "deep-1"], ids=["plain", "idempotent"])
async def test_a_deeply_nested_body_is_malformed_json(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, shape: str, key: str | None
) -> None:
    headers = {"content-type": "application/json"} | ({"Idempotency-Key": key} if key else {})
    for path in ("/orders", "/stock/S1/receive"):
        answer = await api.post(path, content=BODIES[shape][:60_000], headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("/malformed-json")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_deeply_nested_cursor_is_invalid(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    cursor = base64.urlsafe_b64encode(b"[" * 6000).decode().rstrip("=")
    for path in ("/orders", "/stock"):
        answer = await api.get(path, params={"cursor": cursor})
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "cursor"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
