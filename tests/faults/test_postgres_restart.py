"""Scenario 4: PostgreSQL stopped (fast shutdown) and later SIGKILLed, each time restarted,
under a load of commands and queries: commands go on (they need NATS only), queries answer
503 while it is down, the projectors pause and resume by themselves, and the views
converge to the fold of the streams."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from support.command_load import CommandLoad, tally_answers
from support.fault_report import FaultReport
from support.read_side import connect
from support.roles import role_env
from support.stack import running_stack
from support.stream_fold import (
    checkpoints,
    converged,
    differences,
    fold_orders,
    fold_stock,
    read_stream,
    view_orders,
    view_stock,
)
from tally.embedded import EmbeddedPostgres

pytestmark = pytest.mark.faults
SKUS = [f"p-{i}" for i in range(6)]
DOWN_FOR = 3.0


@dataclass
class QueryLoad:
    base: str
    answers: list[tuple[int, float, float]] = field(default_factory=list)  # status, sent, took

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                path = f"/stock/{SKUS[n % len(SKUS)]}" if n % 2 else "/orders?limit=5"
                sent = time.monotonic()
                try:
                    status = (await client.get(path)).status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((status, sent, time.monotonic() - sent))
                await asyncio.sleep(0.02)


async def advanced(database_url: str, beyond: int, timeout: float = 60) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            try:
                if sum((await checkpoints(database_url)).values()) > beyond:
                    return time.monotonic() - started
            except (OSError, ConnectionError):
                pass  # the server is still starting
            await asyncio.sleep(0.05)


async def test_postgres_stopped_and_killed_under_load(
    nats_url: str, postgres_tmp_path: Path, tmp_path: Path, report: FaultReport
) -> None:
    server = EmbeddedPostgres(postgres_tmp_path / "data")
    await asyncio.to_thread(server.start)
    try:
        database_url = await asyncio.to_thread(server.create_database, "faults")
        env = role_env(nats_url, database_url)
        async with running_stack(env, tmp_path) as stack:
            pids = stack.pids()
            async with httpx.AsyncClient(base_url=stack.base) as client:
                for sku in SKUS:
                    received = await client.post(f"/stock/{sku}/receive", json={"quantity": 1000})
                    # the query load reads these SKUs at once: wait until the view has them,
                    # or a GET racing the projector is a legitimate 404
                    position = received.json()["position"]
                    seen = await client.get(f"/stock/{sku}", params={"after": position, "wait": 30})
                    assert seen.status_code == 200, seen.text
            commands, queries = CommandLoad(stack.base, SKUS, workers=3), QueryLoad(stack.base)
            stop = asyncio.Event()
            load = asyncio.gather(commands.run(stop), queries.run(stop))
            windows: list[tuple[float, float]] = []
            await asyncio.sleep(2)
            outages: list[tuple[str, Callable[[], None]]] = [
                ("stopped", server.stop),
                ("SIGKILLed", server.kill),
            ]
            for how, cut in outages:
                await asyncio.to_thread(cut)
                down_at = time.monotonic()  # the window: from down to the restart's call
                report.fault(f"PostgreSQL {how}, down for {DOWN_FOR:.0f} s")
                await asyncio.sleep(DOWN_FOR)
                async with httpx.AsyncClient(base_url=stack.base) as client:
                    ready = await client.get("/ready")
                assert ready.status_code == 503 and "postgres" in ready.text, ready.text
                windows.append((down_at + 0.2, time.monotonic()))
                await asyncio.to_thread(server.start)
                before = sum((await checkpoints(database_url)).values())
                took = await advanced(database_url, before)
                report.recovered(took, f"after {how}: projectors applying again")
                await asyncio.sleep(2)
            stop.set()
            await load
            report.recovered(await converged(nats_url, database_url), "views caught up")
            assert stack.all_alive() and stack.pids() == pids, stack.tails()
        down = [q for q in queries.answers for s, e in windows if s <= q[1] and q[1] + q[2] <= e]
        assert down and {q[0] for q in down} == {503}, Counter(q[0] for q in down)
        assert max(q[2] for q in queries.answers) < 2.5, "a query hung"
        assert {q[0] for q in queries.answers} <= {200, 503}, Counter(q[0] for q in queries.answers)
        assert {a.status for a in commands.answers} == {202}, commands.statuses()
        nc = await connect(nats_url)
        orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
        await nc.close()
        counted = tally_answers(commands.answers, orders.events + stock.events)
        assert counted.lost == [] and counted.doubled == [], counted
        expected_orders, (expected_stock, broken) = (
            fold_orders(orders.events),
            fold_stock(stock.events),
        )
        actual_orders, actual_stock = (
            await view_orders(database_url),
            await view_stock(database_url),
        )
        assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
        assert actual_stock == expected_stock, differences(expected_stock, actual_stock)
        assert broken == []
    finally:
        await asyncio.to_thread(server.stop)
    report.figure("commands", commands.statuses())
    report.figure("queries", dict(Counter(q[0] for q in queries.answers)))
    report.figure(
        "queries_while_down", f"{len(down)} all 503, slowest {max(q[2] for q in down):.2f}s"
    )
    report.figure("lost", len(counted.lost))
    report.figure("doubled", len(counted.doubled))
    report.note(f"views equal the fold: {len(actual_orders)} orders, {len(actual_stock)} SKUs")
