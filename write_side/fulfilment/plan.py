"""Pure helpers of the fulfilment process: what to reserve, step keys, deadlines, and when
to look at a message again. No I/O; the clock and randomness come in as arguments."""

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from events.orders import OrderLine

MIN_DELAY = 0.05
MAX_DELAY = 30.0


@dataclass(frozen=True)
class Ack:
    """The message's work is done and stored: acknowledge it."""


@dataclass(frozen=True)
class Retry:
    """Come back to the message after `delay` seconds (a negative acknowledgement)."""

    delay: float


Outcome = Ack | Retry
ACK = Ack()


def reservation_plan(lines: Iterable[OrderLine]) -> list[tuple[str, int]]:
    """One reservation per SKU (lines naming the same SKU add up), in SKU order, so that
    concurrent orders take their SKUs in the same order."""
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    return sorted(wanted.items())


def order_skus(lines: Iterable[OrderLine]) -> list[str]:
    return sorted({line.sku for line in lines})


def step_key(order_id: str, step: str) -> str:
    """The idempotency key of one step of one order: the same step always makes the same
    event ids, so a repeat is also caught by JetStream's duplicate window."""
    return f"fulfil:{order_id}:{step}"


def seconds_left(placed_at: datetime, now: datetime, deadline_seconds: float) -> float:
    """Time left to take the payment; the deadline runs from the OrderPlaced event."""
    return deadline_seconds - (now - placed_at).total_seconds()


def _clamp(delay: float) -> float:
    return min(MAX_DELAY, max(MIN_DELAY, delay))


def park_delay(retry_after: float, left: float, rng: random.Random) -> float:
    """While the breaker is open: come back when it lets a trial call through, spread by
    jitter so parked orders do not return all at once, and no later than the deadline."""
    spread = retry_after + rng.uniform(0.0, 0.5 * retry_after + MIN_DELAY)
    return _clamp(min(spread, max(left, 0.0) + MIN_DELAY))


def failure_delay(deliveries: int, rng: random.Random, *, base: float = 0.2) -> float:
    """After an unexpected failure (e.g. NATS unreachable): exponential backoff with full
    jitter on the number of deliveries so far."""
    ceiling = base * 2 ** min(max(deliveries - 1, 0), 8)
    return _clamp(rng.uniform(0.5 * ceiling, ceiling))
