"""Orders placed and decided in a stretch of ORDERS, read back from the stream after the
system is idle again, so that the bench's own reading is not part of the CPU it measures.

A watch that follows ORDERS live is one more consumer for nats-server: two deliveries of
each placed order (its placement and its decision), about 2 of the ~14 messages it sends
per order, and a process of the bench on the same cores. The confirm row reads instead
where ORDERS ends before wrk starts, waits (`http_rows.settle`: fulfilment has nothing
pending or unacknowledged, the projections applied the last event), takes its CPU reading,
and only then reads what was stored after that point: placements, confirmations and
rejections with JetStream's own timestamps.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from events.subjects import ORDERS, SUBJECT_PREFIX

DECISIONS = frozenset({"OrderConfirmed", "OrderRejected"})


@dataclass
class Decided:
    """What a stretch of ORDERS holds: orders placed, confirmed and rejected, and the
    stored times of the first placement and the last decision."""

    placed: dict[str, datetime] = field(default_factory=dict)
    confirmed: int = 0
    rejected: int = 0
    first: datetime | None = None
    last: datetime | None = None
    lags: list[float] = field(default_factory=list)

    def add_message(self, msg: Msg) -> str | None:
        """One message of ORDERS counted; its event type."""
        kind = (msg.headers or {}).get("Tally-Event-Type")
        self.add(kind, msg.subject, msg.metadata.timestamp)
        return kind

    def add(self, kind: str | None, subject: str, stamp: datetime) -> None:
        if kind == "OrderPlaced":
            self.first = self.first or stamp
            self.placed[subject] = stamp
        elif kind in DECISIONS:
            self.confirmed += kind == "OrderConfirmed"
            self.rejected += kind == "OrderRejected"
            self.last = stamp
            if subject in self.placed:
                self.lags.append((stamp - self.placed[subject]).total_seconds())

    def per_second(self) -> float:
        """Confirmed orders / (last decision - first placement), by the stored times."""
        if self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return self.confirmed / (self.last - self.first).total_seconds()

    def lag(self, quantile: float) -> float:
        """Placed -> decided, in seconds, at `quantile` of the orders decided."""
        lags = sorted(self.lags)
        return lags[min(len(lags) - 1, int(len(lags) * quantile))] if lags else float("nan")


async def stream_end(nats_url: str) -> int:
    """The sequence of the last message ORDERS holds now."""
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(ORDERS)).state.last_seq)
    finally:
        await nc.close()


async def read_decided(nats_url: str, after: int, timeout: float = 120) -> Decided:
    """The orders placed and decided in ORDERS from the sequence after `after` to its end
    as it is now (an ordered consumer of its own, deleted when done)."""
    decided = Decided()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        end = int((await js.stream_info(ORDERS)).state.last_seq)
        if end <= after:
            return decided
        done = asyncio.get_running_loop().create_future()

        async def on_message(msg: Msg) -> None:
            decided.add_message(msg)
            if msg.metadata.sequence.stream >= end and not done.done():
                done.set_result(None)

        subscription = await js.subscribe(
            f"{SUBJECT_PREFIX[ORDERS]}.>",
            cb=on_message,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1
            ),
        )
        await asyncio.wait_for(done, timeout)
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return decided
