"""`tally fulfil`: the order fulfilment process (also run inside `tally up`)."""

import asyncio
import logging
import random

from nats.aio.client import Client as NATS
from prometheus_client import start_http_server

from tally.http.ops import Check, CheckResult
from tally.metrics import Metrics
from tally.nats_auth import nats_auth_options
from tally.nats_connection import connect_nats
from tally.settings import Settings
from write_side.command_service import CommandService
from write_side.event_store import JetStreamEventStore
from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.consumer import FulfilmentConsumer, consumer_config, ensure_consumer
from write_side.fulfilment.gateway import PaymentGateway
from write_side.fulfilment.http_gateway import HttpPaymentGateway
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.process import Fulfilment
from write_side.fulfilment.simulator import SimulatedGateway
from write_side.fulfilment.status import BUCKET as STATUS_BUCKET
from write_side.fulfilment.status import BreakerStatusPublisher, open_status_bucket
from write_side.key_value import JetStreamKeyValue

log = logging.getLogger("tally.fulfilment")


def build_breaker(settings: Settings) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=settings.breaker_failure_threshold,
        reset_timeout=settings.breaker_reset_seconds,
    )


def build_gateway(settings: Settings) -> PaymentGateway:
    if settings.payment_url:
        return HttpPaymentGateway(settings.payment_url, timeout=settings.payment_timeout_seconds)
    return SimulatedGateway(
        limit=settings.payment_limit,
        failure_rate=settings.payment_failure_rate,
        rng=random.Random(settings.payment_seed),
    )


def breaker_check(breaker: CircuitBreaker) -> Check:
    """For /ready: an open breaker is reported, not failed; the API keeps taking orders
    and the fulfilment process parks payments until the gateway is back."""

    async def check() -> CheckResult:
        return True, breaker.snapshot().describe()

    return check


async def ensure_fulfilment(nc: NATS, settings: Settings) -> None:
    """The durable consumer and the status bucket (`tally migrate` only: the fulfilment
    user may not create or change them)."""
    js = nc.jetstream()
    await ensure_consumer(
        js, consumer_config(max_ack_pending=max(10_000, settings.fulfil_concurrency))
    )
    await open_status_bucket(js, replicas=settings.stream_replicas)


async def run_fulfil(
    settings: Settings,
    stop: asyncio.Event,
    breaker: CircuitBreaker | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Runs until `stop` is set, then finishes the messages in hand and returns. Pass the
    `breaker` and `metrics` to share them with other roles of the same process (`tally
    up`); alone, metrics are served on TALLY_METRICS_PORT when it is set."""
    breaker = breaker or build_breaker(settings)
    if metrics is None:
        metrics = Metrics()
        if settings.metrics_port:
            start_http_server(settings.metrics_port, settings.host, registry=metrics.registry)
    breaker.subscribe(metrics.breaker_changed)
    nc = await connect_nats(
        settings.nats_servers,
        name="tally-fulfil",
        connect_timeout=settings.nats_connect_timeout,
        **nats_auth_options(settings),
    )
    gateway = build_gateway(settings)
    try:
        # made by `tally migrate`: the fulfilment user may not create it
        status_bucket = await nc.jetstream().key_value(STATUS_BUCKET)
        publisher = BreakerStatusPublisher(JetStreamKeyValue(status_bucket, STATUS_BUCKET), breaker)
        store = JetStreamEventStore(nc, timeout=settings.nats_timeout)
        service = CommandService(store, max_attempts=settings.command_max_attempts)
        guarded = GuardedGateway(
            gateway, breaker, max_attempts=settings.payment_max_attempts, observer=metrics
        )
        fulfilment = Fulfilment(
            service,
            guarded,
            deadline_seconds=settings.payment_deadline_seconds,
            call_budget=settings.payment_timeout_seconds * settings.payment_max_attempts + 1,
            observer=metrics,
        )
        consumer = FulfilmentConsumer(
            nc, fulfilment.handle, concurrency=settings.fulfil_concurrency, observer=metrics
        )
        log.info(
            "fulfilment running",
            extra={
                "gateway": type(gateway).__name__,
                "concurrency": settings.fulfil_concurrency,
                "deadline_seconds": settings.payment_deadline_seconds,
            },
        )
        async with asyncio.TaskGroup() as group:  # one failing cancels the other
            group.create_task(consumer.run(stop))
            group.create_task(publisher.run(stop))
    finally:
        await gateway.aclose()
        await nc.drain()
