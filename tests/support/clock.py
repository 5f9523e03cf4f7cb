"""A clock that moves only when a test moves it, for code that takes its clock as an
argument (the in-memory store, the circuit breaker, the fulfilment deadline)."""

from datetime import datetime, timedelta

from events.envelope import utc_now


class FakeClock:
    """Seconds when called (a monotonic clock); `utc()` tells the same moments as dates,
    starting from the real time at creation (events carry real timestamps)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self._start = self.now
        self._epoch = utc_now()

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return self._epoch + timedelta(seconds=self.now - self._start)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def elapse(self, seconds: float) -> None:
        """`advance` for contract suites, whose other adapters really wait."""
        self.advance(seconds)
