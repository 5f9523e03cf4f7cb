"""The fulfilment process manager: what to do with each order event.

The order's own status is the process's state. Reservations are made only while the order
is pending; stock is released and money refunded only once the order is final (rejected
or cancelled), so a redelivered or racing message can never reserve after a release.
Every step is decided from the aggregate it changes (so a repeat changes nothing) and
carries a deterministic idempotency key per (order, step).
"""

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.codec import RecordedEvent
from events.envelope import Envelope, utc_now
from events.orders import OrderCancelled, OrderPlaced, OrderShipped, RejectionReason
from write_side.aggregates import ORDER, PAYMENT
from write_side.command_service import CommandService, Metadata
from write_side.domain.order import ConfirmOrder, OrderState, RejectOrder
from write_side.domain.payment import RecordAuthorization, RecordDecline, Refund
from write_side.domain.stock import (
    OutOfStock,
    ReleaseReservation,
    ReserveStock,
    ShipReserved,
)
from write_side.errors import RuleViolation
from write_side.fulfilment import failpoints
from write_side.fulfilment.breaker import BreakerOpen
from write_side.fulfilment.gateway import Authorized, GatewayUnavailable, PaymentRequest
from write_side.fulfilment.observer import FulfilmentObserver, NoFulfilmentObserver
from write_side.fulfilment.payments import GuardedGateway
from write_side.fulfilment.plan import (
    ACK,
    MAX_DELAY,
    Outcome,
    Retry,
    order_skus,
    park_delay,
    reservation_plan,
    seconds_left,
    step_key,
)
from write_side.fulfilment.stock_owners import LocalStock, OrderStockCommand, StockSteps
from write_side.fulfilment.together import settled

log = logging.getLogger("tally.fulfilment")
LogLine = Callable[[str, Mapping[str, Any]], None]
"""Writes one info line (event, fields) of the fulfilment logger."""


def _log_info(event: str, fields: Mapping[str, Any]) -> None:
    log.info(event, extra=fields)


@dataclass(slots=True)
class _Trigger:
    """The event being handled: every event appended for it carries its correlation id
    and, as causation id, its event id. Never changed once made (not frozen: a frozen
    dataclass sets each field through object.__setattr__, on every order event)."""

    order_id: str
    envelope: Envelope
    causation_id: str  # the event id as text, made once (each step's events carry it)

    def meta(self, step: str) -> Metadata:
        return Metadata(
            correlation_id=self.envelope.correlation_id,
            causation_id=self.causation_id,
            idempotency_key=step_key(self.order_id, step),
        )

    def log(self, **fields: object) -> dict[str, object]:
        """`extra=` for a log line about this event: its order, correlation and cause."""
        return {
            "order_id": self.order_id,
            "correlation_id": self.envelope.correlation_id,
            "causation_id": self.causation_id,
            **fields,
        }


class Fulfilment:
    def __init__(
        self,
        service: CommandService,
        payments: GuardedGateway,
        *,
        deadline_seconds: float = 30.0,
        call_budget: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        observer: FulfilmentObserver | None = None,
        failpoint: Callable[[str], None] = failpoints.failpoint,
        log_line: LogLine | None = None,
        stock: StockSteps | None = None,
    ) -> None:
        """`failpoint` is called by name after every stored step (see failpoints.py);
        unit tests pass one that raises, to crash between two steps in-process.
        `log_line` writes the one info line per decision (confirmed, rejected, refunded):
        by default through the logger; the composition root passes the batched writer
        of the same line (tally/log_lines.py). `stock`: where the stock commands are
        done (default: here; with shards, on the SKU's owner, see stock_owners.py)."""
        self._service = service
        self._payments = payments
        self._deadline = deadline_seconds
        self._call_budget = call_budget
        self._clock = clock
        self._rng = rng or random.Random()
        self._observer = observer or NoFulfilmentObserver()
        self._failpoint = failpoint
        self._log_line = log_line or _log_info
        self._stock_steps = stock or LocalStock(service)

    async def handle(self, recorded: RecordedEvent) -> Outcome:
        envelope = recorded.envelope
        trigger = _Trigger(recorded.aggregate_id, envelope, str(envelope.event_id))
        match recorded.event:
            case OrderPlaced():
                # The order's first event, as delivered: its state there is known without
                # reading it back, so the read below asks only for what came after it.
                self._service.remember_first(ORDER, trigger.order_id, recorded)
                return await self._placed(trigger)
            case OrderCancelled():
                return await self._settle(trigger, await self._order(trigger))
            case OrderShipped():
                order = await self._order(trigger)
                shipping = ShipReserved(trigger.order_id)
                await self._each_sku(trigger, order_skus(order.lines), shipping, "ship")
        return ACK

    async def _stock(self, t: _Trigger, sku: str, command: OrderStockCommand, step: str) -> None:
        # One stock command per SKU at a time in this process (the command service's turns
        # per subject): decided on the cached state and appended without conflicts between
        # our own orders. Other processes race unless the SKU's owner does it (shards), and
        # the expected sequence settles it.
        await self._stock_steps.handle(sku, command, t.meta(f"{step}:{sku}"))
        self._failpoint(f"after-{step}")  # tests only: TALLY_FAILPOINTS, inert when unset

    async def _each_sku(
        self, t: _Trigger, skus: list[str], command: OrderStockCommand, step: str
    ) -> None:
        """The same idempotent command on several SKUs at once; the first failure is raised
        once all are done."""
        outcomes = await settled([self._stock(t, sku, command, step) for sku in skus])
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome

    async def _order(self, trigger: _Trigger) -> OrderState:
        state, _ = await self._service.load(ORDER, trigger.order_id)
        return state

    async def _placed(self, t: _Trigger) -> Outcome:
        order = await self._order(t)
        if order.status != "pending":
            return await self._settle(t, order)
        short = await self._reserve(t, reservation_plan(order.lines))
        if short is not None:
            return await self._reject(t, "out_of_stock", short.detail)
        # The payment is not read first: a pending order's payment is nearly always
        # empty, and when an earlier delivery recorded one, recording ours (which expects
        # an empty subject) meets it and decides on it; the gateway answers a repeated call
        # for the order as it did the first time (its idempotency key is the order's).
        return await self._authorize(t, order)

    async def _recorded(self, t: _Trigger) -> Outcome | None:
        """What an earlier delivery's recorded payment decides (the order is still
        pending: confirm or reject it), None when there is none. Read where the gateway is
        not asked (deadline passed, breaker open, gateway down), so that a payment taken
        before still counts."""
        payment, _ = await self._service.load(PAYMENT, t.order_id)
        if payment.authorization_id is not None:
            return await self._confirm(t, payment.authorization_id)
        if payment.declined:
            return await self._reject(t, "payment_declined", "declined by the payment gateway")
        return None

    async def _reserve(self, t: _Trigger, plan: list[tuple[str, int]]) -> OutOfStock | None:
        """Reserves every SKU of the plan at once (each command taking its turn on its SKU
        in the command service, so one order never holds two and cannot deadlock). Every
        reservation is finished before this returns: a release decided afterwards cannot
        be overtaken by a reservation still in flight. A failure other than a shortage is
        raised (the message comes back; the reservations made are kept and found again)."""
        reserving = [
            self._stock(t, sku, ReserveStock(t.order_id, qty), "reserve") for sku, qty in plan
        ]
        outcomes = await settled(reserving)
        shortages: list[OutOfStock] = []
        for outcome in outcomes:
            if isinstance(outcome, OutOfStock):
                shortages.append(outcome)
            elif isinstance(outcome, Exception):
                raise outcome
        return shortages[0] if shortages else None

    async def _authorize(self, t: _Trigger, order: OrderState) -> Outcome:
        left = seconds_left(t.envelope.occurred_at, self._clock(), self._deadline)
        if left <= 0:
            detail = f"no payment answer within {self._deadline:g} s"
            earlier = await self._recorded(t)
            return earlier or await self._reject(t, "payment_unavailable", detail)
        request = PaymentRequest(t.order_id, order.total, order.currency)
        try:
            result = await self._payments.authorize(request, budget=min(left, self._call_budget))
        except BreakerOpen as error:
            delay = park_delay(error.retry_after, left, self._rng)
            log.debug("payment parked, breaker open", extra=t.log(retry_in=round(delay, 3)))
            return await self._recorded(t) or Retry(delay)
        except GatewayUnavailable as error:
            log.info("payment gateway unavailable", extra=t.log(error=str(error)))
            left = seconds_left(t.envelope.occurred_at, self._clock(), self._deadline)
            pause = min(1.0, self._payments.breaker.reset_timeout)
            return await self._recorded(t) or Retry(park_delay(pause, left, self._rng))
        if isinstance(result, Authorized):
            self._failpoint("after-authorize")
            record = RecordAuthorization(order.total, order.currency, result.authorization_id)
            done = await self._service.handle(
                PAYMENT, t.order_id, record, t.meta("payment-authorized"), new=True
            )
            self._failpoint("after-payment")
            recorded = done.state.authorization_id  # a racing delivery may have been first
            if recorded is None:
                return await self._reject(t, "payment_declined", "declined by the gateway")
            return await self._confirm(t, recorded)
        decline = RecordDecline(result.reason)
        try:
            await self._service.handle(
                PAYMENT, t.order_id, decline, t.meta("payment-declined"), new=True
            )
        except RuleViolation:  # an earlier delivery recorded an authorization: it stands
            earlier = await self._recorded(t)
            if earlier is None:
                raise
            return earlier
        return await self._reject(t, "payment_declined", result.reason)

    async def _confirm(self, t: _Trigger, authorization_id: str) -> Outcome:
        try:
            done = await self._service.handle(
                ORDER, t.order_id, ConfirmOrder(authorization_id), t.meta("confirm")
            )
        except RuleViolation:  # cancelled while we were taking the payment: undo it all
            return await self._settle(t, await self._order(t))
        self._failpoint("after-confirm")
        if done.events:
            self._observer.order_decided("confirmed")
            self._log_line("order confirmed", t.log(authorization_id=authorization_id))
        return ACK

    async def _reject(self, t: _Trigger, reason: RejectionReason, detail: str) -> Outcome:
        try:
            done = await self._service.handle(
                ORDER, t.order_id, RejectOrder(reason, detail[:2000]), t.meta("reject")
            )
            if done.events:
                self._observer.order_decided(reason)
                self._log_line("order rejected", t.log(reason=reason, detail=detail[:200]))
        except RuleViolation:
            pass  # no longer pending (cancelled meanwhile): settle what it is now
        self._failpoint("after-reject")
        return await self._settle(t, await self._order(t))

    async def _settle(self, t: _Trigger, order: OrderState) -> Outcome:
        """A final order that did not go through holds no stock and keeps no money."""
        if order.status not in ("rejected", "cancelled"):
            return ACK
        releasing = ReleaseReservation(t.order_id)
        await self._each_sku(t, order_skus(order.lines), releasing, "release")
        payment, _ = await self._service.load(PAYMENT, t.order_id)
        if payment.authorization_id is None or payment.refunded:
            return ACK
        try:
            await self._payments.refund(
                t.order_id, payment.authorization_id, payment.amount, budget=self._call_budget
            )
        except BreakerOpen as error:
            return Retry(park_delay(error.retry_after, MAX_DELAY, self._rng))
        except GatewayUnavailable:
            return Retry(park_delay(self._payments.breaker.reset_timeout, MAX_DELAY, self._rng))
        self._failpoint("after-refund")
        await self._service.handle(PAYMENT, t.order_id, Refund(), t.meta("payment-refunded"))
        self._observer.order_decided("refunded")
        self._log_line("payment refunded", t.log(amount=str(payment.amount)))
        return ACK
