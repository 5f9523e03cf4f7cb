"""Scenario 3: the NATS server SIGKILLed and restarted (same store dir) twice under a steady
command load: commands answer 503 within 2 s while it is down and never hang; every 202
has exactly one event afterwards; the projectors and fulfilment resume without a restart
of their own, and the views converge to the fold of the streams."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from support.command_load import CommandLoad, tally_answers
from support.fault_report import FaultReport
from support.read_side import connect
from support.roles import role_env
from support.servers import NatsServer
from support.stack import running_stack
from support.stream_fold import (
    converged,
    differences,
    fold_orders,
    fold_stock,
    read_stream,
    view_orders,
    view_stock,
)

pytestmark = pytest.mark.faults
SKUS = [f"n-{i}" for i in range(8)]
OUTAGES = 2
DOWN_FOR = 3.0


async def test_nats_killed_and_restarted_under_command_load(
    nats_server: NatsServer, database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    env = role_env(nats_server.url, database_url)
    async with running_stack(env, tmp_path) as stack:
        pids = stack.pids()
        load = CommandLoad(stack.base, SKUS, workers=4)
        stop = asyncio.Event()
        sender = asyncio.create_task(load.run(stop))
        windows: list[tuple[float, float]] = []
        await asyncio.sleep(2)
        for outage in range(1, OUTAGES + 1):
            await asyncio.to_thread(nats_server.kill)
            killed = time.monotonic()
            report.fault(f"NATS SIGKILLed ({outage}), down for {DOWN_FOR:.0f} s")
            await asyncio.sleep(DOWN_FOR)
            windows.append((killed + 0.2, time.monotonic()))  # down until the restart's call
            await asyncio.to_thread(nats_server.restart)
            restarted = time.monotonic()
            first = await load.accepted_after(restarted)
            report.recovered(first - restarted, f"restart {outage}: commands accepted again")
            await asyncio.sleep(3)
        stop.set()
        await sender
        took = await converged(nats_server.url, database_url)
        report.recovered(took, "projections caught up and every order settled")
        assert stack.all_alive() and stack.pids() == pids, stack.tails()
    down = [a for start, end in windows for a in load.between(start, end)]
    assert down and all(a.status == 503 for a in down), {a.status for a in down}
    assert max(a.took for a in down) < 2.0, max(a.took for a in down)
    assert all(a.status in (202, 503) for a in load.answers), load.statuses()
    assert max(a.took for a in load.answers) < 2.5, "a command hung"
    nc = await connect(nats_server.url)
    orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
    await nc.close()
    counted = tally_answers(load.answers, orders.events + stock.events)
    assert counted.lost == [] and counted.doubled == [], counted
    expected_orders, (expected_stock, broken) = fold_orders(orders.events), fold_stock(stock.events)
    actual_orders, actual_stock = await view_orders(database_url), await view_stock(database_url)
    assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
    assert actual_stock == expected_stock, differences(expected_stock, actual_stock)
    assert broken == []
    report.figure("commands", len(load.answers))
    report.figure("answers", load.statuses())
    report.figure(
        "answered_while_down", f"{len(down)} all 503, slowest {max(a.took for a in down):.2f}s"
    )
    report.figure("slowest_answer_s", f"{max(a.took for a in load.answers):.2f}")
    report.figure("stored_despite_503", counted.stored_503)
    report.figure("lost", len(counted.lost))
    report.figure("doubled", len(counted.doubled))
    report.note(f"{counted.accepted} accepted commands, each stored once; roles kept their pids")
