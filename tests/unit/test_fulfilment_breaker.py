"""The payment circuit breaker: closed -> open -> half-open -> closed, on a fake clock."""

import pytest

from write_side.fulfilment.breaker import BreakerOpen, BreakerSnapshot, CircuitBreaker
from write_side.fulfilment.status import describe_status


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=threshold, reset_timeout=5.0, clock=clock)


def test_opens_after_n_consecutive_failures() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(2):
        cb.before_call()
        cb.record_failure()
    assert cb.snapshot().state == "closed"
    cb.before_call()
    cb.record_failure()
    assert cb.snapshot().state == "open"
    with pytest.raises(BreakerOpen) as refused:
        cb.before_call()
    assert refused.value.retry_after == pytest.approx(5.0)


def test_a_success_resets_the_failure_count() -> None:
    cb = breaker(Clock())
    for _ in range(2):
        cb.record_failure()
    cb.record_success()
    for _ in range(2):
        cb.record_failure()
    assert cb.snapshot().state == "closed"


def test_half_open_lets_one_trial_through_and_closes_on_success() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 4.0
    with pytest.raises(BreakerOpen) as refused:
        cb.before_call()
    assert refused.value.retry_after == pytest.approx(1.0)
    clock.now += 1.0
    assert cb.snapshot().state == "half_open"
    cb.before_call()  # the trial
    with pytest.raises(BreakerOpen):
        cb.before_call()  # a second caller waits for the trial's verdict
    cb.record_success()
    assert cb.snapshot().state == "closed"
    cb.before_call()


def test_a_failed_trial_opens_the_breaker_again() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=2)
    cb.record_failure()
    cb.record_failure()
    clock.now += 5.0
    cb.before_call()
    cb.record_failure()
    assert cb.snapshot().state == "open"
    assert cb.snapshot().retry_after == pytest.approx(5.0)
    assert cb.snapshot().opened_count == 2


def test_listeners_hear_every_transition() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    seen: list[BreakerSnapshot] = []
    cb.subscribe(seen.append)
    cb.record_failure()
    clock.now += 5.0
    cb.before_call()
    cb.record_success()
    assert [snapshot.state for snapshot in seen] == ["closed", "open", "half_open", "closed"]
    assert "open" in seen[1].describe()


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)


def test_the_published_state_reads_as_one_line_for_tally_status() -> None:
    assert "no fulfilment process" in describe_status(None, 100.0)
    opened = {"state": "open", "failures": 5, "retry_after": 4.0, "updated_at": 100.0}
    assert describe_status(opened, 101.0) == (
        "payment breaker: open after 5 failures, trial in 3.0 s (reported 1 s ago)"
    )
    assert "half-open" in describe_status(opened, 110.0)


def test_an_abandoned_trial_lets_the_next_caller_try() -> None:
    clock = Clock()
    cb = breaker(clock, threshold=1)
    cb.record_failure()
    clock.now += 5.0
    cb.before_call()
    cb.record_abandoned()
    cb.before_call()  # not refused: the first trial never got an answer
    assert cb.snapshot().state == "half_open"
