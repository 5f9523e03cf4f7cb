"""Scenario 2: `tally fulfil` killed between each pair of steps (reserve, pay, confirm,
reject, release, refund, ship) by failpoints (write_side/fulfilment/failpoints.py), then
restarted: every order ends confirmed or final, no unit stays reserved for a rejected or
cancelled order, no payment is taken twice, refunds match."""

from __future__ import annotations

import asyncio
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
from nats.js.api import ConsumerConfig

from support.fault_report import FaultReport
from support.fulfilment import Shop, shop
from support.fulfilment_checks import doubled_events, outstanding
from support.ledger_gateway import Ledger, ledger_gateway
from support.roles import Role, role_env
from write_side.domain.order import CancelOrder, ShipOrder
from write_side.fulfilment.consumer import consumer_config
from write_side.fulfilment.failpoints import EXIT_CODE
from write_side.fulfilment.status import open_status_bucket
from write_side.key_value import open_key_value
from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET

pytestmark = pytest.mark.faults
SKUS = ["a", "b", "scarce"]
NORMAL = (("a", 1, "10.00"), ("b", 2, "5.00"))
ACK_WAIT = 2.0


def short_config() -> ConsumerConfig:
    """The consumer `tally migrate` makes, with a 2 s ack_wait (not 30 s), so that what a
    crash left unacknowledged comes back in seconds (`tally fulfil` never changes it)."""
    config = consumer_config()
    config.ack_wait = ACK_WAIT
    return config


async def workload(s: Shop, point: str, orders: list[str]) -> str:
    """Work that passes through `point`; returns what was done."""
    if point in ("after-reserve", "after-authorize", "after-payment", "after-confirm"):
        orders += [await s.place(*NORMAL) for _ in range(6)]
        return "placed 6 orders"
    if point == "after-reject":
        orders += [await s.place(("a", 1, "2000.00")) for _ in range(3)]
        orders += [await s.place(("scarce", 2, "1.00")) for _ in range(3)]
        return "placed 3 orders over the payment limit and 3 short of stock"
    confirmed = [o for o in orders if (await s.order(o)).status == "confirmed"]
    chosen = confirmed[:4]
    command = ShipOrder() if point == "after-ship" else CancelOrder("fault suite")
    for order_id in chosen:
        await s.command(order_id, command)
    return f"{type(command).__name__} on {len(chosen)} confirmed orders"


async def settle(
    s: Shop, process: Role, ledger: Ledger, orders: list[str], linger: float = 0
) -> float:
    """Runs the process without failpoints until every order is settled; returns how long
    that took. `linger`: then keep it running a little (late work would break the books)."""
    process.start()
    started = time.monotonic()
    async with asyncio.timeout(60):
        while await outstanding(s, ledger, orders, SKUS):
            assert process.alive, process.tail()
            await asyncio.sleep(0.2)
    took = time.monotonic() - started
    await asyncio.sleep(linger)
    process.stop()
    return took


async def exited(process: Role, timeout: float) -> int | None:
    assert process.proc is not None
    try:
        return await asyncio.to_thread(process.proc.wait, timeout)
    except subprocess.TimeoutExpired:
        return None


async def test_fulfilment_killed_between_each_pair_of_steps(
    nats_url: str, tmp_path: Path, report: FaultReport
) -> None:
    points = ["after-reserve", "after-authorize", "after-payment", "after-confirm"]
    points += ["after-reject", "after-release", "after-refund", "after-ship"]
    orders: list[str] = []
    async with ledger_gateway(Decimal(1000)) as (ledger, url), shop(nats_url) as s:
        env = role_env(
            nats_url,
            TALLY_PAYMENT_URL=url,
            TALLY_PAYMENT_DEADLINE_SECONDS="300",
            TALLY_SNAPSHOT_EVERY="2",  # each restarted process starts from snapshots
        )
        process = Role(["fulfil"], env, tmp_path / "fulfil.log")
        await s.nc.jetstream().add_consumer("ORDERS", short_config())  # as migrate does,
        await open_status_bucket(s.nc.jetstream())  # and its status bucket
        snapshots = await open_key_value(
            s.nc.jetstream(), SNAPSHOT_BUCKET, ttl_seconds=None, replicas=1, description="test"
        )
        for sku in SKUS:
            await s.receive(sku, 3 if sku == "scarce" else 1000)
        for point in points:
            if point in ("after-release", "after-ship"):  # have confirmed orders to undo
                took = await settle(s, process, ledger, orders)
                report.recovered(took, "restarted without failpoints: all settled")
            done = await workload(s, point, orders)
            process.start(TALLY_FAILPOINTS=point)
            code = await exited(process, 45)
            assert code == EXIT_CODE, f"{point}: exit {code}\n{process.tail()}"
            report.fault(f"{done}; the process died at {point}")
        took = await settle(s, process, ledger, orders, linger=ACK_WAIT + 0.5)
        report.recovered(took, "restarted without failpoints: all settled")
        problems = await outstanding(s, ledger, orders, SKUS)
        doubled, broken, events = await doubled_events(s.nc)
        statuses = [str((await s.order(order_id)).status) for order_id in orders]
        snapshotted = [sku for sku in SKUS if await snapshots.get(f"stock.{sku}") is not None]
    assert problems == [], problems
    assert snapshotted, "snapshots were on, yet no stock item was snapshotted"
    assert doubled == [], doubled
    assert broken == [], broken
    report.figure("orders", len(orders))
    report.figure("events", events)
    report.figure("statuses", dict(sorted({x: statuses.count(x) for x in statuses}.items())))
    report.figure("gateway_calls", dict(ledger.calls))
    report.figure("refunds", len(ledger.refunded))
    report.figure("lost", 0)
    report.figure("doubled", len(doubled) + len(ledger.doubled))
    report.note("no pending order, stock held only by confirmed orders, money kept only for")
    report.note("confirmed/shipped orders, every gateway refund recorded once, no step twice")
