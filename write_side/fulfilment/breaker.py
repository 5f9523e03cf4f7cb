"""A circuit breaker: closed -> open after N consecutive failures -> half-open (one trial
call) after a pause -> closed on success, open again on failure.

The state is a plain object that other parts of the process read (/ready, metrics, the
status published for `tally status`); listeners hear every transition.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]
STATE_CODES: dict[BreakerState, int] = {"closed": 0, "half_open": 1, "open": 2}


class BreakerOpen(Exception):
    """The breaker refuses calls for now; try again in `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit breaker open, retry in {retry_after:.2f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class BreakerSnapshot:
    state: BreakerState
    failures: int  # consecutive failures while closed, or that opened the breaker
    retry_after: float  # seconds until a trial call is let through (0 unless open)
    opened_count: int  # how many times the breaker has opened since start

    def describe(self) -> str:
        if self.state == "open":
            return f"open after {self.failures} failures, trial in {self.retry_after:.1f} s"
        if self.state == "half_open":
            return "half-open, trial call in flight"
        return f"closed ({self.failures} recent failures)"


Listener = Callable[[BreakerSnapshot], None]


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold >= 1 and reset_timeout > 0 are required")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._opened_count = 0
        self._trial_in_flight = False
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)
        listener(self.snapshot())

    @property
    def state(self) -> BreakerState:
        if self._state == "open" and self._retry_after() <= 0:
            return "half_open"
        return self._state

    def snapshot(self) -> BreakerSnapshot:
        state = self.state
        retry_after = self._retry_after() if state == "open" else 0.0
        return BreakerSnapshot(state, self._failures, retry_after, self._opened_count)

    def before_call(self) -> None:
        """Lets a call through or raises BreakerOpen. In half-open, one trial at a time."""
        state = self.state
        if state == "closed":
            return
        if state == "open":
            raise BreakerOpen(self._retry_after())
        if self._trial_in_flight:
            raise BreakerOpen(min(self.reset_timeout, 1.0))
        self._trial_in_flight = True
        self._transition("half_open")

    def record_success(self) -> None:
        self._trial_in_flight = False
        self._failures = 0
        if self._state != "closed":
            self._transition("closed")

    def record_abandoned(self) -> None:
        """A call that ended without a verdict (cancelled): the next caller may try."""
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state == "half_open" or (
            self._state == "closed" and self._failures >= self.failure_threshold
        ):
            self._opened_at = self._clock()
            self._opened_count += 1
            self._transition("open")

    def _retry_after(self) -> float:
        return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def _transition(self, state: BreakerState) -> None:
        self._state = state
        snapshot = self.snapshot()
        for listener in self._listeners:
            listener(snapshot)
