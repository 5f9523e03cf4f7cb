"""Pausing a view and replays asked for through the admin API, worker side: a paused view's
projector holds its lock and checkpoint across a restart and catches up once resumed; a
replay request is taken by the worker and swaps (or, cancelled mid-way, leaves the old view
and no shadow); one replay per view; a request left running by a dead worker is failed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from support.read_side import order_history, projecting, publish, view_rows, wait_position
from support.roles import TALLY, role_env
from tally.operator.pauses import set_paused
from tally.operator.replay_requests import (
    ReplayConflict,
    ReplayFinished,
    cancel_replay,
    request_replay,
    show_replay,
)
from tally.roles.replay_worker import ReplayWorker

pytestmark = pytest.mark.integration


async def _last(nc: NATS, stream: str = "ORDERS") -> int:
    return int((await nc.jetstream().stream_info(stream)).state.last_seq)


@contextlib.asynccontextmanager
async def _connected(db: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db)
    try:
        yield conn
    finally:
        await conn.close()


async def _held(db: str, key: str) -> bool:
    """Whether another session holds advisory lock `key`."""
    async with _connected(db) as conn:
        if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
            return False
        return True


async def _until(check: Callable[[], Awaitable[Any]], timeout: float = 15) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):  # noqa: ASYNC110 (another task writes it)
            await asyncio.sleep(0.05)
    return found


@contextlib.asynccontextmanager
async def _replay_worker(nc: NATS, db: str, batch_size: int = 500) -> AsyncIterator[None]:
    stop = asyncio.Event()
    worker = ReplayWorker(nc, db, {"orders", "stock"}, batch_size=batch_size, every=0.1)
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_a_pause_survives_a_restart_and_resume_catches_up(nc: NATS, db: str) -> None:
    await publish(nc, order_history(10))
    async with projecting(nc, db, "orders") as (projector,):
        await wait_position(db, "orders", await _last(nc))
        async with _connected(db) as conn:
            assert await set_paused(conn, "orders", True) == {"name": "orders", "paused": True}
            await set_paused(conn, "orders", True)  # twice: no change
        await _until(lambda: asyncio.sleep(0, projector.pause.paused))
        paused_at = await _last(nc)
        await publish(nc, order_history(5), start=100)
        await asyncio.sleep(1.5)
        async with _connected(db) as conn:
            at = await conn.fetchval("SELECT position FROM projection_checkpoints")
        assert at == paused_at  # nothing pulled while paused
        assert await _held(db, "tally.projection.orders")  # the lock kept

    async with projecting(nc, db, "orders") as (restarted,):
        await _until(lambda: asyncio.sleep(0, restarted.pause.paused))  # paused from the start
        await asyncio.sleep(1.5)
        async with _connected(db) as conn:
            assert await conn.fetchval("SELECT position FROM projection_checkpoints") == paused_at
        assert await _held(db, "tally.projection.orders")
        async with _connected(db) as conn:
            assert await set_paused(conn, "orders", False) == {"name": "orders", "paused": False}
        await wait_position(db, "orders", await _last(nc))  # caught up from the checkpoint
        assert not restarted.pause.paused


async def test_a_replay_request_is_taken_and_swapped(nc: NATS, db: str) -> None:
    await publish(nc, order_history(30))
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc))
        before = await view_rows(db)
        async with _connected(db) as conn:
            asked = await request_replay(conn, "orders")
            with pytest.raises(ReplayConflict):
                await request_replay(conn, "orders")  # one per view
            async with _replay_worker(nc, db):

                async def over() -> dict[str, Any] | None:
                    shown = await show_replay(conn, asked)
                    return shown if shown and shown["state"] == "swapped" else None

                swapped = await _until(over)
            assert swapped["done"] == swapped["total"] == await _last(nc)
            assert swapped["comparison"]["identical"] is True, swapped
            assert swapped["finished_at"] and swapped["error"] is None
            with pytest.raises(ReplayFinished):
                await cancel_replay(conn, asked)
            assert await cancel_replay(conn, uuid.uuid4()) is None
            again = await request_replay(conn, "orders")  # the last one is over
            assert (await cancel_replay(conn, again) or {})["state"] == "cancelled"  # not taken
        assert await view_rows(db) == before


async def test_a_replay_cancelled_mid_way_leaves_the_old_view(nc: NATS, db: str) -> None:
    await publish(nc, order_history(600))
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc), timeout=30)
        before = await view_rows(db)
        async with _connected(db) as conn, _replay_worker(nc, db, batch_size=2):
            asked = await request_replay(conn, "orders")

            async def started() -> bool:
                shown = await show_replay(conn, asked)
                return bool(shown and shown["done"] > 0)

            await _until(started)
            cancelling = await cancel_replay(conn, asked)
            assert cancelling is not None and cancelling["state"] == "building"

            async def over() -> dict[str, Any] | None:
                shown = await show_replay(conn, asked)
                return shown if shown and shown["state"] == "cancelled" else None

            cancelled = await _until(over)
            assert 0 < cancelled["done"] < await _last(nc), cancelled
            assert await conn.fetchval("SELECT to_regnamespace('replay_orders')") is None
            states = await conn.fetch("SELECT DISTINCT state FROM projection_checkpoints")
            assert [row["state"] for row in states] == ["live"]
        assert await view_rows(db) == before


async def test_a_running_cli_replay_refuses_a_request(nc: NATS, db: str) -> None:
    async with _connected(db) as holder, _connected(db) as conn:
        await holder.execute("SELECT pg_advisory_lock(hashtext('tally.replay.stock'))")
        with pytest.raises(ReplayConflict, match="tally replay"):
            await request_replay(conn, "stock")
        await holder.execute("SELECT pg_advisory_unlock(hashtext('tally.replay.stock'))")
        assert await request_replay(conn, "stock")


async def test_a_request_left_by_a_dead_worker_is_failed(nc: NATS, db: str) -> None:
    async with _connected(db) as conn:
        left = await request_replay(conn, "stock")
        await conn.execute(
            "UPDATE replay_requests SET started_at = now(), state = 'catching-up' WHERE id = $1",
            left,
        )
        async with _replay_worker(nc, db):

            async def failed() -> dict[str, Any] | None:
                shown = await show_replay(conn, left)
                return shown if shown and shown["state"] == "failed" else None

            shown = await _until(failed)
        assert "stopped before the swap" in shown["error"]
        assert await request_replay(conn, "stock")  # the view is free again


async def test_the_cli_pauses_and_resumes(nc: NATS, nats_url: str, db: str) -> None:
    env = role_env(nats_url, db)

    def tally(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TALLY, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    paused = await asyncio.to_thread(tally, "pause", "stock")
    assert paused.returncode == 0 and paused.stdout.strip() == "stock: paused", paused.stderr
    status = await asyncio.to_thread(tally, "status", "--json")
    assert status.returncode == 0, status.stderr
    shown = {item["name"]: item["paused"] for item in json.loads(status.stdout)["projections"]}
    assert shown == {"orders": False, "stock": True}
    assert "paused" in (await asyncio.to_thread(tally, "status")).stdout
    resumed = await asyncio.to_thread(tally, "resume", "stock")
    assert resumed.returncode == 0 and resumed.stdout.strip() == "stock: resumed"
    async with _connected(db) as conn:
        assert await conn.fetchval("SELECT count(*) FROM projection_pauses") == 0
    unknown = await asyncio.to_thread(tally, "pause", "nope")
    assert unknown.returncode == 2 and "no projection 'nope'" in unknown.stderr
