"""Pure decision helpers of the fulfilment process."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from events.orders import OrderLine
from write_side.fulfilment.plan import (
    MAX_DELAY,
    MIN_DELAY,
    failure_delay,
    order_skus,
    park_delay,
    reservation_plan,
    seconds_left,
    step_key,
)


def line(sku: str, quantity: int) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price=Decimal("1.00"))


def test_reservations_are_per_sku_summed_and_sorted() -> None:
    lines = [line("b", 1), line("a", 2), line("b", 3)]
    assert reservation_plan(lines) == [("a", 2), ("b", 4)]
    assert order_skus(lines) == ["a", "b"]


def test_step_keys_are_deterministic_per_order_and_step() -> None:
    assert step_key("o1", "reserve:a") == step_key("o1", "reserve:a")
    assert step_key("o1", "reserve:a") != step_key("o2", "reserve:a")
    assert step_key("o1", "reserve:a") != step_key("o1", "release:a")


def test_the_deadline_runs_from_the_placement() -> None:
    placed = datetime(2026, 1, 1, tzinfo=UTC)
    assert seconds_left(placed, placed + timedelta(seconds=10), 30) == 20
    assert seconds_left(placed, placed + timedelta(seconds=31), 30) < 0


def test_parking_waits_for_the_breaker_but_not_past_the_deadline() -> None:
    rng = random.Random(1)
    delays = [park_delay(2.0, 60.0, rng) for _ in range(100)]
    assert all(2.0 <= delay <= 3.05 for delay in delays)
    assert len(set(delays)) > 50  # jitter spreads parked orders
    assert park_delay(2.0, 0.3, rng) == 0.3 + MIN_DELAY
    assert park_delay(0.0, -5.0, rng) == MIN_DELAY
    assert park_delay(500.0, 1000.0, rng) == MAX_DELAY


def test_failure_backoff_grows_with_deliveries_and_is_capped() -> None:
    rng = random.Random(2)
    assert failure_delay(1, rng) <= 0.2
    assert 0.8 <= failure_delay(4, rng) <= 1.6
    assert 25.0 <= failure_delay(100, rng) <= MAX_DELAY
