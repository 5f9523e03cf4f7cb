"""The durable JetStream consumer that feeds order events to the process manager.

Messages are handled concurrently, but one order's messages one at a time and in delivery
order. A message is acknowledged only after its step's events are stored; work that must
wait (breaker open, deadline not reached) is nak'ed with a delay; an undecodable message is
terminated. On stop, no new message is fetched and the ones in hand are finished.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.codec import DecodeError, RecordedEvent, decode
from events.envelope import EVENT_TYPE
from events.registry import CURRENT
from events.subjects import ORDERS, SUBJECT_PREFIX
from write_side.fulfilment.keyed_lock import KeyedLocks
from write_side.fulfilment.observer import FulfilmentObserver, NoFulfilmentObserver
from write_side.fulfilment.plan import ACK, Outcome, Retry, failure_delay
from write_side.jetstream_wire import JetStreamWire

log = logging.getLogger("tally.fulfilment")
CONSUMER = "fulfilment"
Handler = Callable[[RecordedEvent], Awaitable[Outcome]]
# What the process reacts to; the rest of ORDERS (half of it its own confirmations and
# rejections) is acknowledged without being decoded.
HANDLED = frozenset({"OrderPlaced", "OrderCancelled", "OrderShipped"})


def consumer_config(max_ack_pending: int = 10_000, ack_wait: float = 30.0) -> ConsumerConfig:
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
        self._js = nc.jetstream()
        self._wire = JetStreamWire.of(nc)  # acks go in the appends' socket write
        self._handler = handler
        self._concurrency = concurrency
        self._locks = KeyedLocks()
        self._rng = random.Random()
        self._observer = observer or NoFulfilmentObserver()

    async def run(self, stop: asyncio.Event) -> None:
        subscription = await self._js.pull_subscribe_bind(CONSUMER, ORDERS)
        tasks: set[asyncio.Task[None]] = set()
        refill = max(1, self._concurrency // 4)  # fetch in batches, not one by one
        try:
            while not stop.is_set():
                free = self._concurrency - len(tasks)
                if free < refill:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    messages = await subscription.fetch(batch=free, timeout=0.5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.Error as error:
                    log.warning("fetching order events failed: %s", error)
                    await asyncio.sleep(0.5)
                    continue
                for message in messages:
                    if self._skipped(message):  # no task for what needs only an ack
                        await self._settle(message, ACK)
                        continue
                    task = asyncio.create_task(self._process(message))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            if tasks:
                log.info("finishing %d order events in hand", len(tasks))
                await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    def _skipped(self, message: Msg) -> bool:
        """An event of ours this process does not react to (counted as skipped)."""
        event_type = (message.headers or {}).get(EVENT_TYPE, "unknown")
        if event_type not in HANDLED and event_type in CURRENT:
            self._observer.order_event_handled(event_type, "skipped")
            return True
        return False

    async def _process(self, message: Msg) -> None:
        observe = self._observer.order_event_handled
        event_type = (message.headers or {}).get(EVENT_TYPE, "unknown")
        metadata = message.metadata
        try:
            recorded = decode(
                message.data,
                message.headers or {},
                stream=ORDERS,
                seq=metadata.sequence.stream,
                subject=message.subject,
            )
        except DecodeError as error:
            log.error("not a Tally event, terminated: seq %s: %s", metadata.sequence.stream, error)
            observe(event_type, "terminated")
            await self._settle(message, None)
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
                        "deliveries": metadata.num_delivered,
                    },
                )
                outcome = Retry(failure_delay(metadata.num_delivered, self._rng))
                result = "failed"
        observe(event_type, result)
        await self._settle(message, outcome)

    async def _settle(self, message: Msg, outcome: Outcome | None) -> None:
        try:
            if outcome is None:
                await message.term()
            elif isinstance(outcome, Retry):
                await message.nak(delay=outcome.delay)
            else:
                self._wire.publish(message.reply, b"", b"+ACK")
        except nats.errors.Error as error:  # redelivered later; every step is idempotent
            log.warning("could not settle order event: %s", error)
