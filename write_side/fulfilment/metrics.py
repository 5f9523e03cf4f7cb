"""Prometheus metrics of the fulfilment process (default registry, served by /metrics)."""

from prometheus_client import Counter, Gauge

from write_side.fulfilment.breaker import STATE_CODES, BreakerSnapshot

GATEWAY_CALLS = Counter(
    "tally_payment_gateway_calls_total",
    "Calls to the payment gateway, by operation and outcome",
    ["operation", "outcome"],
)
BREAKER_STATE = Gauge(
    "tally_payment_breaker_state", "Payment circuit breaker: 0 closed, 1 half-open, 2 open"
)
BREAKER_OPENED = Gauge(
    "tally_payment_breaker_opened", "How many times the payment breaker opened since start"
)
MESSAGES = Counter(
    "tally_fulfilment_messages_total",
    "Order events handled by the fulfilment process, by type and what became of the message",
    ["event_type", "result"],
)
ORDERS = Counter(
    "tally_fulfilment_orders_total",
    "Orders the fulfilment process brought to a decision, by outcome",
    ["outcome"],
)


def observe_breaker(snapshot: BreakerSnapshot) -> None:
    BREAKER_STATE.set(STATE_CODES[snapshot.state])
    BREAKER_OPENED.set(snapshot.opened_count)
