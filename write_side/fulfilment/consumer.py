"""The durable JetStream consumer that feeds order events to the process manager.

Messages are handled concurrently, but one order's messages one at a time and in delivery
order. A message is acknowledged only after its step's events are stored; work that must
wait (breaker open, deadline not reached) is nak'ed with a delay; an undecodable message is
terminated. On stop, no new message is asked for and the ones in hand are finished.
Messages arrive through `feed.py` (pull requests and acks in the wire's frames).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.codec import DecodeError, RecordedEvent
from events.registry import CURRENT
from events.subjects import ORDERS, SUBJECT_PREFIX
from write_side.fulfilment.feed import ACKNOWLEDGE, TERMINATE, Delivery, PullFeed, nak
from write_side.fulfilment.keyed_lock import KeyedLocks
from write_side.fulfilment.observer import FulfilmentObserver, NoFulfilmentObserver
from write_side.fulfilment.plan import ACK, Outcome, Retry, failure_delay
from write_side.marked_events import decode_marked

log = logging.getLogger("tally.fulfilment")
CONSUMER = "fulfilment"
Handler = Callable[[RecordedEvent], Awaitable[Outcome]]
# What the process reacts to; the rest of ORDERS (half of it its own confirmations and
# rejections) is acknowledged without being decoded.
HANDLED = frozenset({"OrderPlaced", "OrderCancelled", "OrderShipped"})


ACK_PENDING = 10_000  # unacknowledged order events the consumer lets out at least


def consumer_config(max_ack_pending: int = ACK_PENDING, ack_wait: float = 30.0) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=CONSUMER,
        description="Tally order fulfilment (process manager)",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,  # parked work comes back until it is decided
        # Parked (nak'ed) messages count as pending: leave room for a breaker's worth of
        # parked orders so that cancellations and new orders still flow meanwhile.
        max_ack_pending=max_ack_pending,
        # `orders.>`, not `orders.*`: a partitioned stream stores `orders.<p>.<id>`
        filter_subject=f"{SUBJECT_PREFIX[ORDERS]}.>",
    )


def consumer_config_for(concurrency: int) -> ConsumerConfig:
    """The consumer for processes holding `concurrency` order events each: room for all of
    them and for parked ones, never less than `ACK_PENDING`."""
    return consumer_config(max_ack_pending=max(ACK_PENDING, concurrency))


async def ensure_consumer(js: JetStreamContext, config: ConsumerConfig | None = None) -> None:
    """Creates the durable consumer, or updates its editable fields."""
    await js.add_consumer(ORDERS, config or consumer_config())


class FulfilmentConsumer:
    def __init__(
        self,
        nc: NATS,
        handler: Handler,
        *,
        concurrency: int = 64,
        observer: FulfilmentObserver | None = None,
    ) -> None:
        self._nc = nc
        self._handler = handler
        self._concurrency = concurrency
        self._refill = max(1, concurrency // 4)  # pull in batches, not one by one
        self._locks = KeyedLocks()
        self._rng = random.Random()
        self._observer = observer or NoFulfilmentObserver()
        self._tasks: set[asyncio.Task[None]] = set()
        self._feed: PullFeed | None = None
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        """Pulls while work is in hand (a task per message) and no more than `concurrency`
        messages are in hand or asked for; checks once a second for requests lost to a
        reconnect. On stop, nothing more is asked for, what still arrives is handed back
        at once (-NAK) and the messages in hand are finished."""
        feed = self._feed = PullFeed(self._nc, ORDERS, CONSUMER, self._on_delivery)
        await feed.start()
        try:
            while not stop.is_set():
                self._top_up()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await stop.wait()
        finally:
            self._stopping = True
            if self._tasks:
                log.info("finishing %d order events in hand", len(self._tasks))
                await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(nats.errors.Error):
                await feed.close()

    def _top_up(self) -> None:
        feed = self._feed
        if feed is None or self._stopping:
            return
        free = self._concurrency - len(self._tasks) - feed.outstanding()
        if free >= self._refill:
            try:
                feed.pull(free)
            except nats.errors.Error as error:  # asked again within a second
                log.warning("pulling order events failed: %s", error)

    def _on_delivery(self, delivery: Delivery) -> None:
        """In nats-py's read loop: what needs only an ack is acked here, the rest gets a
        task."""
        if self._stopping:
            self._settle(delivery, Retry(0.0))  # for another process (or our restart)
            return
        event_type = delivery.event_type
        if event_type not in HANDLED and event_type in CURRENT:  # no task for an ack
            self._observer.order_event_handled(event_type, "skipped")
            self._settle(delivery, ACK)
            self._top_up()
            return
        task = asyncio.get_running_loop().create_task(self._process(delivery, event_type))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._top_up()

    async def _process(self, delivery: Delivery, event_type: str) -> None:
        observe = self._observer.order_event_handled
        try:
            recorded = decode_marked(  # our own events are not validated again
                delivery.data,
                delivery.headers,  # parsed here, not for the deliveries only acknowledged
                stream=ORDERS,
                seq=delivery.stream_seq,
                subject=delivery.subject,
            )
        except DecodeError as error:
            log.error("not a Tally event, terminated: seq %s: %s", delivery.stream_seq, error)
            observe(event_type, "terminated")
            self._settle(delivery, None)
            return
        async with self._locks.hold(recorded.aggregate_id):
            try:
                outcome = await self._handler(recorded)
                result = "parked" if isinstance(outcome, Retry) else "done"
            except Exception:
                envelope = recorded.envelope
                log.exception(
                    "fulfilment step failed, will retry",
                    extra={
                        "order_id": recorded.aggregate_id,
                        "event_type": event_type,
                        "correlation_id": envelope.correlation_id,
                        "causation_id": str(envelope.event_id),
                        "deliveries": delivery.deliveries,
                    },
                )
                outcome = Retry(failure_delay(delivery.deliveries, self._rng))
                result = "failed"
        observe(event_type, result)
        self._settle(delivery, outcome)

    def _settle(self, delivery: Delivery, outcome: Outcome | None) -> None:
        """Acknowledged, brought back later (Retry), or never again (None: terminated)."""
        if outcome is None:
            answer = TERMINATE
        elif isinstance(outcome, Retry):
            answer = nak(outcome.delay)
        else:
            answer = ACKNOWLEDGE
        assert self._feed is not None
        try:
            self._feed.settle(delivery, answer)
        except nats.errors.Error as error:  # redelivered later; every step is idempotent
            log.warning("could not settle order event: %s", error)
