"""PostgreSQL going away: queries answer 503 within 2 s (never hang, never 500), and the
projector resumes where it stopped once the server is back."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS

from support.query_app import query_client
from support.read_side import (
    placed,
    projecting,
    publish,
    rows,
    wait_position,
)
from support.servers import NatsServer, PostgresServer
from tally.roles.database import run_alembic

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def first_503(
    client: httpx.AsyncClient, path: str, params: dict[str, str], seconds: float = 2.0
) -> tuple[httpx.Response, float]:
    """The GET repeated until it answers 503, for at most `seconds`: the order the API
    cached may still be answered (200, the view as it was) until the API notices that
    PostgreSQL is gone (its LISTEN connection lost, then it forgets its cache), a moment
    that comes later at load; anything but 200 or 503 is answered at once."""
    started = time.monotonic()
    while True:
        answer = await client.get(path, params=params)
        elapsed = time.monotonic() - started
        if answer.status_code != 200 or elapsed >= seconds:
            return answer, elapsed
        await asyncio.sleep(0.05)


async def test_postgres_down_answers_503_quickly_and_projector_resumes(
    nc: NATS, nats_url: str, database_url: str, postgres_server: PostgresServer
) -> None:
    await run_alembic(database_url)
    order_id = str(uuid4())
    first = await publish(nc, [(f"orders.{order_id}", placed("ada"))])
    async with (
        projecting(nc, database_url, "orders"),
        query_client(nc, nats_url, database_url) as client,
    ):
        await wait_position(database_url, "orders", first)
        assert (await client.get(f"/orders/{order_id}")).status_code == 200

        await asyncio.to_thread(postgres_server.kill)
        try:
            later = [(f"orders.{uuid4()}", placed(f"later-{i}")) for i in range(3)]
            more = await publish(nc, later, start=10)  # while it is down
            for path, params in [
                (f"/orders/{order_id}", {}),
                ("/orders", {"limit": "5"}),
                ("/stock", {}),
                (f"/orders/{order_id}", {"after": f"ORDERS:{more}", "wait": "1"}),
                ("/projections", {}),
            ]:
                answer, elapsed = await first_503(client, path, params)
                assert answer.status_code == 503, (path, answer.text)
                assert elapsed < 2.0, (path, elapsed)
                assert answer.headers["retry-after"]
        finally:
            await asyncio.to_thread(postgres_server.restart)

        await wait_position(database_url, "orders", more, timeout=20)
        answer = await client.get(f"/orders/{order_id}", params={"after": f"ORDERS:{more}"})
        assert answer.status_code == 200
    assert len(await rows(database_url, "orders", "order_id")) == 1 + 3


async def test_projector_resumes_after_nats_restart(
    nats_server: NatsServer, nc: NATS, database_url: str
) -> None:
    await run_alembic(database_url)
    first = await publish(nc, [(f"orders.{uuid4()}", placed("before"))])
    async with projecting(nc, database_url, "orders"):
        await wait_position(database_url, "orders", first)
        await asyncio.to_thread(nats_server.kill)
        await asyncio.to_thread(nats_server.restart)
        later = await publish(nc, [(f"orders.{uuid4()}", placed("after"))], start=5)
        await wait_position(database_url, "orders", later, timeout=15)
    assert len(await rows(database_url, "orders", "order_id")) == 2
