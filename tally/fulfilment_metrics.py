"""Timing of the fulfilment process, wired around it by its composition root so that the
write side stays free of metrics:

- each order event handled (all its steps) -> tally_fulfilment_event_seconds{event_type};
- each step, i.e. each command fulfilment sends (ReserveStock, ConfirmOrder, ...): the
  command service's observer is shared with the API (`tally up` has one service), and
  these commands are fulfilment's alone (no HTTP route sends them), so `Metrics` counts
  the commands named in STEPS as tally_fulfilment_steps_total{step, outcome} and
  tally_fulfilment_step_seconds{step} instead of tally_commands_total;
- each payment gateway call -> tally_payment_gateway_seconds{operation}.
"""

import time
from decimal import Decimal

from events.codec import RecordedEvent
from tally.metrics import Metrics
from write_side.domain.order import ConfirmOrder, RejectOrder
from write_side.domain.payment import RecordAuthorization, RecordDecline, Refund
from write_side.domain.stock import ReleaseReservation, ReserveStock, ShipReserved
from write_side.fulfilment.consumer import Handler
from write_side.fulfilment.gateway import PaymentGateway, PaymentRequest, PaymentResult
from write_side.fulfilment.plan import Outcome

STEPS = frozenset(
    command.__name__
    for command in (
        ReserveStock,
        ReleaseReservation,
        ShipReserved,
        RecordAuthorization,
        RecordDecline,
        Refund,
        ConfirmOrder,
        RejectOrder,
    )
)


def timed_handler(handler: Handler, metrics: Metrics) -> Handler:
    """`handler`, observed: how long fulfilment took over each order event."""

    async def handle(recorded: RecordedEvent) -> Outcome:
        started = time.perf_counter()
        try:
            return await handler(recorded)
        finally:
            event_type = type(recorded.event).__name__
            metrics.order_event_timed(event_type, time.perf_counter() - started)

    return handle


class TimedGateway:
    """A PaymentGateway that times each call of the gateway it wraps (every attempt; the
    calls the breaker refuses never reach it)."""

    def __init__(self, gateway: PaymentGateway, metrics: Metrics) -> None:
        self._gateway = gateway
        self._metrics = metrics

    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        started = time.perf_counter()
        try:
            return await self._gateway.authorize(request)
        finally:
            self._metrics.gateway_timed("authorize", time.perf_counter() - started)

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        started = time.perf_counter()
        try:
            await self._gateway.refund(order_id, authorization_id, amount)
        finally:
            self._metrics.gateway_timed("refund", time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._gateway.aclose()
