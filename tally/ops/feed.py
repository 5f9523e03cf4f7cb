"""What the operations page shows, read once a second for every open page of the process.

One ticker per API process (started by the first page that opens, then kept, so that the
chart has its last 10 minutes) reads the streams, the projections, the dead letters and
the payment breaker, and counts three rates: commands answered by this process, events
applied by the projectors (their positions), orders confirmed (every `OrderConfirmed`
published, seen on a plain NATS subscription). Each page gets the same snapshots from
memory: a hundred open pages cost what one does.
"""

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from events.subjects import ORDERS, PAYMENTS, STOCK, STREAM_SUBJECTS
from projections.dlq import DLQ_STREAM
from tally.metrics import Metrics
from tally.operator import dead_letters as letters
from write_side.fulfilment.status import read_breaker_status, reported_snapshot

log = logging.getLogger("tally.ops")
STREAMS = (ORDERS, STOCK, PAYMENTS, DLQ_STREAM)
HISTORY = 600  # seconds of rates kept: the chart's 10 minutes
SHOWN_DEAD_LETTERS = 50
TICK = 1.0
REQUEST_TIMEOUT = 0.9
ProjectionStates = Callable[[], Awaitable[list[dict[str, Any]]]]


def _commands_answered(metrics: Metrics) -> float:
    return sum(
        sample.value
        for family in metrics.commands.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


class OpsFeed:
    def __init__(
        self,
        nats_connection: Callable[[], Awaitable[NATS]],
        projection_states: ProjectionStates,
        metrics: Metrics,
    ) -> None:
        self._nats = nats_connection
        self._projection_states = projection_states
        self._metrics = metrics
        self._latest: dict[str, Any] | None = None
        self._history: collections.deque[dict[str, float]] = collections.deque(maxlen=HISTORY)
        self._changed = asyncio.Condition()
        self._ticker: asyncio.Task[None] | None = None
        self._confirmed = 0
        self._subscription: Subscription | None = None
        self._last: tuple[float, float, float, int] | None = None  # at, commands, applied, ok

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ticker
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def snapshots(self, stop: asyncio.Event | None = None) -> AsyncIterator[dict[str, Any]]:
        """The latest snapshot (with the rates of the last 10 minutes), then each new one,
        until `stop` is set."""
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_forever(), name="ops-feed")
        first = True
        while stop is None or not stop.is_set():
            async with self._changed:
                if self._latest is None or not first:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), TICK * 2)
                latest = self._latest
            if latest is None:
                continue
            yield {**latest, "history": list(self._history)} if first else latest
            first = False

    async def _tick_forever(self) -> None:
        while True:
            started = time.monotonic()
            try:
                snapshot = await self.snapshot()
            except Exception as error:  # a page shows what failed; the ticker goes on
                log.debug("ops snapshot failed: %r", error)
                snapshot = {"at": time.time(), "error": f"{type(error).__name__}: {error}"}
            async with self._changed:
                self._latest = snapshot
                self._changed.notify_all()
            await asyncio.sleep(max(0.05, TICK - (time.monotonic() - started)))

    async def _count_confirmed(self, msg: Msg) -> None:
        if (msg.headers or {}).get("Tally-Event-Type") == "OrderConfirmed":
            self._confirmed += 1

    async def snapshot(self) -> dict[str, Any]:
        nc = await self._nats()
        if self._subscription is None:
            self._subscription = await nc.subscribe(
                STREAM_SUBJECTS[ORDERS], cb=self._count_confirmed
            )
        js = nc.jetstream()
        streams = [stream for stream in await asyncio.gather(*map(self._stream, STREAMS)) if stream]
        projections = await self._projection_states()
        dead = await letters.list_letters(js, limit=SHOWN_DEAD_LETTERS)
        record = await read_breaker_status(js)
        now = time.time()
        breaker: dict[str, Any] | None = None
        if record is not None:
            state, age = reported_snapshot(record, now)
            breaker = {"state": state.state, "failures": state.failures, "age": round(age, 1)}
        orders = next((stream["subjects"] for stream in streams if stream["name"] == ORDERS), 0)
        dead_total = next(
            (stream["messages"] for stream in streams if stream["name"] == DLQ_STREAM), 0
        )
        return {
            "at": now,
            "orders": orders,
            "streams": streams,
            "projections": projections,
            "dead_letters": [letters.item(letter) for letter in dead],
            "dead_letters_total": dead_total,
            "breaker": breaker,
            "rates": self._rates(now, projections),
        }

    def _rates(self, now: float, projections: list[dict[str, Any]]) -> dict[str, float]:
        commands = _commands_answered(self._metrics)
        applied = float(sum(int(view["position"]) for view in projections))
        confirmed = self._confirmed
        rates = {"at": now, "commands": 0.0, "applied": 0.0, "confirmed": 0.0}
        if self._last is not None:
            at, commands_before, applied_before, confirmed_before = self._last
            seconds = max(now - at, 1e-3)
            rates["commands"] = round(max(0.0, commands - commands_before) / seconds, 1)
            rates["applied"] = round(max(0.0, applied - applied_before) / seconds, 1)
            rates["confirmed"] = round(max(0, confirmed - confirmed_before) / seconds, 1)
            self._history.append(rates)
        self._last = (now, commands, applied, confirmed)
        return rates

    async def _stream(self, name: str) -> dict[str, Any] | None:
        """The stream's state by the raw API: nats-py's StreamState lacks `num_subjects`
        (ORDERS has one subject per order: the order count, for free)."""
        nc = await self._nats()
        reply = await nc.request(f"$JS.API.STREAM.INFO.{name}", b"", timeout=REQUEST_TIMEOUT)
        info = json.loads(reply.data)
        if "error" in info:
            return None
        state = info.get("state", {})
        return {
            "name": name,
            "messages": int(state.get("messages", 0)),
            "bytes": int(state.get("bytes", 0)),
            "last_seq": int(state.get("last_seq", 0)),
            "subjects": int(state.get("num_subjects", 0)),
        }
