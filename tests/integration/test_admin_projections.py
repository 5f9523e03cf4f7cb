"""The admin API's pauses and replays over HTTP, against real NATS and PostgreSQL, with
the projections worker (`tally project`'s composition root) running the replays: scopes,
404 and 409 cases, a replay that swaps and reports `swapped` (also in GET /projections),
one cancelled mid-way that leaves the old view, a pause that survives a restart of the
projectors and a resume that catches up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS
from pydantic import SecretStr

from support.read_side import (
    connect,
    order_history,
    position,
    publish,
    view_rows,
    wait_position,
)
from tally.bootstrap import bootstrap
from tally.http.tokens import new_token
from tally.roles import replay_worker
from tally.roles.api import api_app
from tally.roles.migrate import migrate
from tally.roles.project import project
from tally.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


async def _last(nc: NATS) -> int:
    return int((await nc.jetstream().stream_info("ORDERS")).state.last_seq)


@contextlib.asynccontextmanager
async def _projecting(settings: Settings) -> AsyncIterator[None]:
    """`tally project`'s work (projectors and replay worker) in a bootstrap of its own."""
    stop = asyncio.Event()

    async def run() -> None:
        async with bootstrap(settings, name="test-project") as parts:
            await project(parts, stop)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def _until(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], done: Callable[[Any], bool]
) -> Any:
    async with asyncio.timeout(60):
        while True:
            answer = await http.get(path, headers=headers)
            assert answer.status_code == 200, answer.text
            if done(answer.json()):
                return answer.json()
            await asyncio.sleep(0.1)


def _orders_item(body: dict[str, Any]) -> dict[str, Any]:
    return next(item for item in body["items"] if item["name"] == "orders")


async def test_pause_replay_and_cancel_over_http(
    nc: NATS, nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # progress and `cancel` go through the row every 0.1 s (1 s by default), so that the
    # replay below is still building when its cancel is read, however fast the machine
    monkeypatch.setattr(replay_worker, "EVERY", 0.1)
    admin, admin_entry = new_token(["admin"])
    reader, reader_entry = new_token(["read", "write"])
    settings = Settings(
        nats_url=nats_url,
        database_url=SecretStr(database_url),
        nats_connect_timeout=5,
        api_tokens=SecretStr(f"{admin_entry};{reader_entry}"),
        replay_batch_size=1,  # slow enough to be cancelled mid-way
    )
    as_admin = {"Authorization": f"Bearer {admin}"}
    as_reader = {"Authorization": f"Bearer {reader}"}
    async with bootstrap(settings, name="test-admin", nats=nc) as parts:
        await migrate(parts)  # the streams, the consumers, the tables
        await publish(nc, order_history(1500))
        app = await api_app(parts)
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
            _projecting(settings),
        ):
            await wait_position(database_url, "orders", await _last(nc), timeout=30)
            before = await view_rows(database_url)

            # scopes, unknown views and replays
            replay = "/admin/projections/orders/replay"
            for method, path in (
                ("POST", replay),
                ("POST", "/admin/projections/orders/pause"),
                ("POST", "/admin/projections/orders/resume"),
                ("GET", "/admin/replays/00000000-0000-0000-0000-000000000000"),
                ("DELETE", "/admin/replays/00000000-0000-0000-0000-000000000000"),
            ):
                assert (await http.request(method, path)).status_code == 401, path
                refused = await http.request(method, path, headers=as_reader)
                assert refused.status_code == 403, path
            for method, path in (
                ("POST", "/admin/projections/nope/replay"),
                ("POST", "/admin/projections/nope/pause"),
                ("GET", "/admin/replays/not-an-id"),
                ("GET", "/admin/replays/00000000-0000-0000-0000-000000000000"),
                ("DELETE", "/admin/replays/00000000-0000-0000-0000-000000000000"),
            ):
                missing = await http.request(method, path, headers=as_admin)
                assert missing.status_code == 404, (path, missing.text)
                assert missing.headers["content-type"] == "application/problem+json"

            # a replay cancelled mid-way leaves the old view
            asked = await http.post(replay, headers=as_admin)
            assert asked.status_code == 202, asked.text
            first = asked.json()["replay_id"]
            assert asked.headers["location"] == f"/admin/replays/{first}"
            busy = await http.post(replay, headers=as_admin)
            assert busy.status_code == 409 and busy.json()["type"] == "/problems/replay-running"
            shown = f"/admin/replays/{first}"
            await _until(http, shown, as_admin, lambda body: body["done"] > 0)
            cancelling = await http.delete(shown, headers=as_admin)
            assert cancelling.status_code == 202, cancelling.text
            cancelled = await _until(http, shown, as_admin, lambda b: b["state"] == "cancelled")
            assert 0 < cancelled["done"] < await _last(nc)
            assert await view_rows(database_url) == before
            over = await http.delete(shown, headers=as_admin)
            assert over.status_code == 409 and over.json()["type"] == "/problems/replay-finished"

            # a replay that completes swaps and says so, here and in GET /projections
            second = (await http.post(replay, headers=as_admin)).json()["replay_id"]
            swapped = await _until(
                http, f"/admin/replays/{second}", as_admin, lambda b: b["state"] == "swapped"
            )
            assert swapped["done"] == swapped["total"] == await _last(nc)
            assert swapped["comparison"]["identical"] is True
            item = _orders_item((await http.get("/projections", headers=as_reader)).json())
            assert item["replay"] == {
                "id": second, "state": "swapped", "done": swapped["done"], "total": swapped["total"]
            }  # fmt: skip
            assert item["paused"] is False
            assert await view_rows(database_url) == before

            # pause: nothing pulled, across a restart of the projectors
            paused = await http.post("/admin/projections/orders/pause", headers=as_admin)
            assert paused.status_code == 200 and paused.json() == {"name": "orders", "paused": True}
            item = _orders_item((await http.get("/projections", headers=as_reader)).json())
            assert item["paused"] is True
            await asyncio.sleep(1.5)  # the projector sees it within a second
            at = await position(database_url, "orders")
        await publish(nc, order_history(5), start=1000)
        async with _projecting(settings):
            await asyncio.sleep(2)
            assert await position(database_url, "orders") == at
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as http:
                resumed = await http.post("/admin/projections/orders/resume", headers=as_admin)
                assert resumed.json() == {"name": "orders", "paused": False}
                await wait_position(database_url, "orders", await _last(nc))
                item = _orders_item((await http.get("/projections", headers=as_reader)).json())
                assert item["paused"] is False and item["lag"] == 0
