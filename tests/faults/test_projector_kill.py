"""Scenario 1: `tally project` SIGKILLed 10 times while catching up on >= 20k events and
restarted each time; the views equal the test's own fold of the streams, the checkpoints
never go backwards and every event is counted once."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from events.base import Event
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderCancelled, OrderConfirmed, OrderRejected, OrderShipped
from events.stock import StockReceived, StockReservationReleased, StockReserved
from support.fault_report import FaultReport
from support.read_side import connect, placed
from support.roles import Role, migrate, role_env
from support.stream_fold import (
    checkpoints,
    differences,
    fold_orders,
    fold_stock,
    read_stream,
    view_orders,
    view_stock,
)

pytestmark = pytest.mark.faults
KILLS = 10


def history(orders: int, rng: random.Random) -> tuple[list[tuple[str, Event]], ...]:
    """Waves of events (each wave may be published concurrently): orders placed, then
    what happened to them, and stock movements on 20 SKUs."""
    placed_wave: list[tuple[str, Event]] = []
    follow_up: list[tuple[str, Event]] = []
    stock: list[tuple[str, Event]] = []
    for index in range(orders):
        subject, sku = f"orders.{uuid4()}", f"sku-{index % 20}"
        placed_wave.append((subject, placed(f"c-{index % 50}", (sku, 1 + index % 3, "2.50"))))
        fate = rng.choice(["confirm", "reject", "cancel", "ship"])
        if fate in ("confirm", "ship"):
            follow_up.append((subject, OrderConfirmed(authorization_id=f"a-{index}")))
        elif fate == "reject":
            follow_up.append((subject, OrderRejected(reason="out_of_stock", detail="gone")))
        else:
            follow_up.append((subject, OrderCancelled(reason=f"changed my mind {index}")))
        stock.append((f"stock.{sku}", StockReceived(quantity=5)))
        if index % 3 == 0:
            stock.append((f"stock.{sku}", StockReserved(order_id=subject[7:], quantity=1)))
    confirmed = [s for s, e in follow_up if isinstance(e, OrderConfirmed)]
    reserved = [(s, e.order_id) for s, e in stock if isinstance(e, StockReserved)]
    last: list[tuple[str, Event]] = [(s, OrderShipped()) for s in confirmed[::2]]
    last += [(s, StockReservationReleased(order_id=o, quantity=1)) for s, o in reserved[::2]]
    return placed_wave, follow_up + stock, last


async def publish(nc: NATS, waves: Sequence[list[tuple[str, Event]]]) -> int:
    js, count = nc.jetstream(), 0
    for wave in waves:
        for start in range(0, len(wave), 500):
            chunk = wave[start : start + 500]
            encoded = [(s, *encode(e, Envelope())) for s, e in chunk]
            await asyncio.gather(*(js.publish(s, d, headers=h) for s, d, h in encoded))
            count += len(chunk)
    return count


class CheckpointWatch:
    """Polls the checkpoints while the projector lives and dies; notes any step back."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.latest: dict[str, int] = {}
        self.backwards: list[str] = []
        self.samples = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for name, position in (await checkpoints(self.database_url)).items():
                if position < self.latest.get(name, 0):
                    self.backwards.append(f"{name}: {self.latest[name]} -> {position}")
                self.latest[name] = max(position, self.latest.get(name, 0))
            self.samples += 1
            await asyncio.sleep(0.02)

    @property
    def total(self) -> int:
        return sum(self.latest.values())

    def beyond(self, position: int) -> Callable[[], bool]:
        return lambda: self.total > position


async def until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Waits for `check()` to be true; returns how long it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_projector_killed_ten_times_while_catching_up(
    nats_url: str, database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    rng = random.Random(7)
    env = role_env(nats_url, database_url, TALLY_PROJECTOR_BATCH_SIZE="250")
    await asyncio.to_thread(migrate, env)
    nc = await connect(nats_url)
    projector = Role(["project", "orders", "stock"], env, tmp_path / "project.log")
    watch, stop = CheckpointWatch(database_url), asyncio.Event()
    watcher = asyncio.create_task(watch.run(stop))
    try:
        published = await publish(nc, history(5_400, rng))
        report.note(f"published {published} events on ORDERS and STOCK")
        for kill in range(1, KILLS + 1):
            if published - watch.total < 3_000:  # keep it catching up at every kill
                published += await publish(nc, history(600, rng))
            before = sum((await checkpoints(database_url)).values())
            projector.start()
            waited = await until(watch.beyond(before), 60, "projector restart")
            report.recovered(waited, f"restart {kill}: applying again")
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            projector.kill()
            report.fault(f"SIGKILL {kill} at checkpoints {watch.latest} of {published}")
        projector.start()
        started = time.monotonic()
        await until(watch.beyond(published - 1), 120, "catching up after the kills")
        report.recovered(time.monotonic() - started, "last start: caught up")
        projector.stop()
    finally:
        stop.set()
        await watcher
        projector.kill()
    orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
    await nc.close()
    assert len(orders.events) + len(stock.events) == published
    expected_orders, (expected_stock, _) = fold_orders(orders.events), fold_stock(stock.events)
    actual_orders, actual_stock = await view_orders(database_url), await view_stock(database_url)
    assert watch.backwards == [], watch.backwards
    assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
    assert actual_stock == expected_stock, differences(expected_stock, actual_stock)
    applied = sum(row[4] for row in actual_orders.values()) + sum(
        row[2] for row in actual_stock.values()
    )
    assert applied == published  # every event counted exactly once
    report.figure("events", published)
    report.figure("checkpoint_samples", watch.samples)
    report.figure("lost", published - applied if applied < published else 0)
    report.figure("doubled", applied - published if applied > published else 0)
    report.note(f"views equal the fold: {len(actual_orders)} orders, {len(actual_stock)} SKUs")
