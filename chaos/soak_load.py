"""The soak's load: an open loop at fixed rates (orders/s and receives/s, as the first
10-minute look at `tally up` had it), so that a slower system shows up as latency, not as
less load. Each answer's latency is kept in the minute it was sent; orders have two lines
over `skus` SKUs, receipts keep those SKUs stocked, and (optionally) each confirmed order
is shipped `ship_after` seconds after it was placed, which keeps the open orders bounded."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chaos.soak_http import Pool

Send = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Minute:
    latencies: list[float] = field(default_factory=list)  # seconds, answered 2xx
    errors: int = 0
    placed: int = 0
    shipped: int = 0


@dataclass
class SoakLoad:
    base: str
    orders_per_s: float
    receives_per_s: float
    skus: int = 100
    ship_after: float | None = None  # None: orders stay open (confirmed, holding stock)
    units: int = 7  # per receipt: 7 x receipts/s covers 2 x orders/s at 30 vs 100
    minutes: dict[int, Minute] = field(default_factory=lambda: defaultdict(Minute))
    started: float = field(default_factory=time.monotonic)
    _rng: random.Random = field(default_factory=lambda: random.Random(21))
    _inflight: set[asyncio.Task[None]] = field(default_factory=set)

    def minute(self) -> Minute:
        return self.minutes[int((time.monotonic() - self.started) // 60)]

    async def run(self, stop: asyncio.Event) -> None:
        url = urlsplit(self.base)
        pool = Pool(url.hostname or "127.0.0.1", url.port or 80)
        try:
            await asyncio.gather(
                self._tick(stop, self.orders_per_s, lambda: self._order(pool)),
                self._tick(stop, self.receives_per_s, lambda: self._receive(pool)),
            )
            await asyncio.gather(*self._inflight, return_exceptions=True)
        finally:
            pool.close()

    async def _tick(self, stop: asyncio.Event, rate: float, send: Send) -> None:
        """Starts `send()` `rate` times a second on a fixed schedule, whatever answers."""
        if rate <= 0:
            return
        start = time.monotonic()
        for n in itertools.count():
            due = start + n / rate
            if (wait := due - time.monotonic()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return
            task = asyncio.create_task(send())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _post(self, pool: Pool, path: str, body: dict[str, Any]) -> dict[str, Any]:
        minute, sent = self.minute(), time.monotonic()
        try:
            async with asyncio.timeout(30):
                status, answer = await pool.post(path, body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            minute.errors += 1
            return {}
        if status >= 300:
            minute.errors += 1
            return {}
        minute.latencies.append(time.monotonic() - sent)
        return answer

    async def _order(self, pool: Pool) -> None:
        skus = self._rng.sample(range(self.skus), 2)
        lines = [{"sku": f"SOAK-{s}", "quantity": 1, "unit_price": "3.50"} for s in skus]
        answer = await self._post(pool, "/orders", {"customer_id": "soak", "lines": lines})
        if not answer:
            return
        self.minute().placed += 1
        if self.ship_after is not None:
            await asyncio.sleep(self.ship_after)
            if await self._post(pool, f"/orders/{answer['order_id']}/ship", {}):
                self.minute().shipped += 1

    async def _receive(self, pool: Pool) -> None:
        sku = f"SOAK-{self._rng.randrange(self.skus)}"
        await self._post(pool, f"/stock/{sku}/receive", {"quantity": self.units})
