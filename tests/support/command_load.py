"""A steady load of commands over HTTP, every answer kept (status, latency, correlation
id), and the check that every 202 stands for exactly one stored event."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from events.codec import RecordedEvent


@dataclass(frozen=True)
class Answer:
    kind: str  # "order" or "receive"
    correlation_id: str
    status: int  # 0: no answer (transport error or client timeout)
    sent: float  # time.monotonic()
    took: float


@dataclass
class CommandLoad:
    base: str
    skus: list[str]
    workers: int = 4
    pause: float = 0.01
    timeout: float = 5.0
    answers: list[Answer] = field(default_factory=list)

    async def run(self, stop: asyncio.Event, limit: float = 120) -> None:
        """Sends commands from `workers` clients until `stop` (or `limit` seconds)."""
        counter = itertools.count()
        async with httpx.AsyncClient(base_url=self.base, timeout=self.timeout) as client:
            async with asyncio.timeout(limit):
                await asyncio.gather(
                    *(self._worker(client, counter, stop) for _ in range(self.workers))
                )

    async def _worker(
        self, client: httpx.AsyncClient, counter: itertools.count[int], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            n = next(counter)
            sku = self.skus[n % len(self.skus)]
            kind = "order" if n % 3 == 0 else "receive"
            corr = f"load-{uuid.uuid4()}"
            line = {"sku": sku, "quantity": 1, "unit_price": "1.00"}
            body: dict[str, object] = {"customer_id": "load", "lines": [line]}
            path = "/orders"
            if kind == "receive":
                path, body = f"/stock/{sku}/receive", {"quantity": 1}
            sent = time.monotonic()
            try:
                response = await client.post(path, json=body, headers={"X-Correlation-ID": corr})
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.answers.append(Answer(kind, corr, status, sent, time.monotonic() - sent))
            await asyncio.sleep(self.pause)

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.sent and a.sent + a.took <= end]

    def statuses(self) -> dict[int, int]:
        return dict(sorted(Counter(a.status for a in self.answers).items()))

    async def accepted_after(self, moment: float, timeout: float = 30) -> float:
        """Waits for a 202 to a command sent after `moment`; returns when it came."""

        def accepted() -> list[float]:
            return [a.sent + a.took for a in self.answers if a.sent > moment and a.status == 202]

        async with asyncio.timeout(timeout):
            while not accepted():  # noqa: ASYNC110 (the answers come from other tasks)
                await asyncio.sleep(0.05)
        return min(accepted())

    def longest_gap(self, after: float, until: float, kind: str | None = None) -> float:
        """The longest time without a 202 (to commands of `kind`) between `after` and
        `until` (when the load stopped): how long appends paused. No 202 at all in
        between is a pause of the whole span."""
        times = sorted(
            a.sent + a.took
            for a in self.answers
            if a.status == 202 and after < a.sent and kind in (None, a.kind)
        )
        return max(b - a for a, b in itertools.pairwise([after, *times, max(until, *times)]))

    def accepted_since(self, moment: float, kind: str) -> bool:
        """Whether a command of `kind` sent after `moment` has been answered 202."""
        return any(a.status == 202 and a.kind == kind and a.sent > moment for a in self.answers)


@dataclass(frozen=True)
class Tally:
    accepted: int
    lost: list[str]  # a 202 without its event
    doubled: list[str]  # one command stored twice
    stored_503: int  # refused commands that were stored all the same (allowed: ambiguous)


def tally_answers(answers: list[Answer], events: list[RecordedEvent]) -> Tally:
    """Matches answers with the OrderPlaced / StockReceived events their requests caused."""
    wanted = {"OrderPlaced", "StockReceived"}
    stored = Counter(e.envelope.correlation_id for e in events if e.event_type in wanted)
    accepted = [a for a in answers if a.status == 202]
    return Tally(
        accepted=len(accepted),
        lost=[a.correlation_id for a in accepted if stored[a.correlation_id] == 0],
        doubled=[c for c, n in stored.items() if n > 1 and c.startswith("load-")],
        stored_503=sum(1 for a in answers if a.status != 202 and stored[a.correlation_id]),
    )
