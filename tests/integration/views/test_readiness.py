"""/ready under a backlog: a projection that lags but moves keeps the API ready (reported
with `"ok": true`); one that lags and stands still for TALLY_READY_STALL_SECONDS turns it
503 naming `projections`. And `tally status --check` says the same from one look."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NATS

from support.query_app import query_client
from support.read_side import connect, order_history, publish, ready_streams
from support.roles import TALLY, role_env
from tally.roles.database import run_alembic

pytestmark = pytest.mark.integration
STALL = 1.5  # TALLY_READY_STALL_SECONDS in these tests


@pytest.fixture
async def nc(nats_url: str, database_url: str) -> AsyncIterator[NATS]:
    client = await connect(nats_url)
    await ready_streams(client)
    await run_alembic(database_url)
    try:
        yield client
    finally:
        await client.close()


async def set_checkpoint(database_url: str, name: str, position: int) -> None:
    """The checkpoint a projector would have saved (the state every check reads)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, stream, position) VALUES ($1, $2, $3)"
            " ON CONFLICT (name) DO UPDATE SET position = $3, updated_at = now()",
            name,
            "ORDERS" if name == "orders" else "STOCK",
            position,
        )
    finally:
        await conn.close()


async def publish_orders(nc: NATS, count: int) -> int:
    """`count` orders' events (nothing on STOCK); ORDERS' last sequence."""
    items = [item for item in order_history(count) if item[0].startswith("orders.")]
    return await publish(nc, items)


async def ready(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    answer = await http.get("/ready")
    return answer.status_code, answer.json()


async def test_a_moving_backlog_stays_ready_a_stalled_one_does_not(
    nc: NATS, nats_url: str, database_url: str
) -> None:
    last = await publish_orders(nc, 10)
    await set_checkpoint(database_url, "orders", 1)
    async with query_client(nc, nats_url, database_url, ready_stall_seconds=STALL) as http:
        for position in range(2, 8):  # lagging, but moving between looks
            await set_checkpoint(database_url, "orders", position)
            status, body = await ready(http)
            assert status == 200, body
            check = body["checks"]["projections"]  # type: ignore[index]
            assert check["ok"] is True and f"orders lag {last - position}" in check["detail"]
            await asyncio.sleep(STALL / 3)

        deadline = asyncio.get_running_loop().time() + 30  # now it stands still
        while (status := (await ready(http))[0]) == 200:
            assert asyncio.get_running_loop().time() < deadline, "never turned 503"
            await asyncio.sleep(0.2)
        status, body = await ready(http)
        assert status == 503 and body["failing"] == ["projections"], body
        detail = body["checks"]["projections"]["detail"]  # type: ignore[index]
        assert detail.startswith(f"stalled: orders lag {last - 7}, no progress for ")

        await set_checkpoint(database_url, "orders", last)  # caught up: ready again
        assert (await ready(http))[0] == 200


async def test_status_check_fails_on_a_stall_and_on_lag_over_the_limit(
    nc: NATS, nats_url: str, database_url: str
) -> None:
    last = await publish_orders(nc, 5)
    await set_checkpoint(database_url, "orders", last - 4)

    def status(*args: str, stall: float = 3600) -> subprocess.CompletedProcess[str]:
        env = role_env(nats_url, database_url, TALLY_READY_STALL_SECONDS=str(stall))
        return subprocess.run(
            [TALLY, "status", *args], env=env, capture_output=True, text=True, timeout=60
        )

    fine = await asyncio.to_thread(status, "--check", "--json")
    assert fine.returncode == 0, fine.stderr  # lagging, but not for an hour
    orders = next(v for v in json.loads(fine.stdout)["projections"] if v["name"] == "orders")
    assert orders["lag"] == 4 and orders["stalled"] is False
    over = await asyncio.to_thread(status, "--check", "--max-lag", "3")
    assert over.returncode == 1
    assert "tally: check failed: projection orders lags 4 events (--max-lag 3)" in over.stderr

    await asyncio.sleep(STALL + 0.5)  # neither moved nor caught up since
    stalled = await asyncio.to_thread(status, "--check", stall=STALL)
    assert stalled.returncode == 1
    assert "projection orders is stalled: 4 events behind, no progress for" in stalled.stderr
    assert "STALLED" in stalled.stdout
