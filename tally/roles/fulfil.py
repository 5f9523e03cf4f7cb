"""`tally fulfil`: the order fulfilment process (also run inside `tally up`)."""

import asyncio
import logging

from nats.aio.client import Client as NATS

from tally.bootstrap import Parts, bootstrap
from tally.fulfilment_metrics import STEPS, TimedGateway, timed_handler
from tally.log_lines import line_writer
from tally.nats_drift import require_no_drift
from tally.roles.heap import settle_heap
from tally.roles.lifecycle import run_until_stopped
from tally.roles.worker_http import fulfilment_checks, serve_worker_http
from tally.settings import Settings, fulfil_shard
from write_side.fulfilment.consumer import FulfilmentConsumer, consumer_config_for, ensure_consumer
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.process import Fulfilment
from write_side.fulfilment.status import BreakerStatusPublisher, open_status_bucket
from write_side.fulfilment.stock_owners import OwnedStock, Shard, StockOwner
from write_side.jetstream_wire import JetStreamWire

log = logging.getLogger("tally.fulfilment")


async def ensure_fulfilment(nc: NATS, settings: Settings) -> None:
    """The durable consumer and the status bucket (`tally migrate` only: the fulfilment
    user may not create or change them)."""
    js = nc.jetstream()
    await ensure_consumer(js, consumer_config_for(settings.fulfil_concurrency))
    await open_status_bucket(js, replicas=settings.stream_replicas)


async def fulfil(parts: Parts, stop: asyncio.Event) -> None:
    """Runs until `stop` is set, then finishes the messages in hand and returns."""
    settings, metrics = parts.settings, parts.metrics
    nc = await parts.nats()
    await require_no_drift(nc.jetstream(), "fulfil", settings)  # or stop, loudly
    breaker = parts.breaker()
    metrics.watch_fulfilment(breaker, STEPS)
    publisher = BreakerStatusPublisher(await parts.status_bucket(), breaker)
    gateway = parts.gateway()
    tracing = parts.tracing()
    timed = TimedGateway(gateway, metrics)
    guarded = GuardedGateway(
        timed if tracing is None else tracing.gateway(timed),
        breaker,
        max_attempts=settings.payment_max_attempts,
        observer=metrics,
    )
    service = await parts.command_service()
    shard = Shard(*fulfil_shard(settings))
    owner: StockOwner | None = None
    stock: OwnedStock | None = None
    if shard.count > 1:
        owner = StockOwner(nc, service, shard)
        wire = JetStreamWire.of(nc)
        # the owner may be busy with its own orders: a few appends' time before doing it here
        stock = OwnedStock(service, wire, shard, timeout=3 * settings.nats_timeout)
    fulfilment = Fulfilment(
        service,
        guarded,
        deadline_seconds=settings.payment_deadline_seconds,
        call_budget=settings.payment_timeout_seconds * settings.payment_max_attempts + 1,
        observer=metrics,
        log_line=line_writer(log),
        stock=stock,
    )
    handler = timed_handler(fulfilment.handle, metrics)
    consumer = FulfilmentConsumer(
        nc,
        handler if tracing is None else tracing.fulfilment_handler(handler),
        concurrency=settings.fulfil_concurrency,
        observer=metrics,
    )
    log.info(
        "fulfilment running",
        extra={
            "gateway": type(gateway).__name__,
            "concurrency": settings.fulfil_concurrency,
            "deadline_seconds": settings.payment_deadline_seconds,
            "shard": settings.fulfil_shard,
        },
    )
    if owner is not None:
        await owner.start()
    settle_heap()  # started: what is allocated from here on is per order event
    try:
        async with asyncio.TaskGroup() as group:  # one failing cancels the other
            group.create_task(consumer.run(stop))
            group.create_task(publisher.run(stop))
    finally:
        if owner is not None:
            await owner.close()


async def run_fulfil(settings: Settings, stop: asyncio.Event) -> None:
    """`tally fulfil` alone: its /metrics, /health and /ready on TALLY_METRICS_PORT when
    that is set."""
    async with bootstrap(settings, name="tally-fulfil") as parts:
        checks = await fulfilment_checks(parts)
        await run_until_stopped(
            fulfil(parts, stop), serve_worker_http(parts, stop, checks), stop=stop
        )
