"""What the projector fault tests share: waves of events to publish, publishing them, a
watch over the checkpoints that notes any step back, and waiting for a condition."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from uuid import uuid4

from nats.aio.client import Client as NATS

from events.base import Event
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderCancelled, OrderConfirmed, OrderRejected, OrderShipped
from events.stock import StockReceived, StockReservationReleased, StockReserved
from support.read_side import placed
from support.stream_fold import checkpoints


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
