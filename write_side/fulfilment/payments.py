"""Gateway calls behind the circuit breaker, retried with exponential backoff and jitter.

A call the breaker refuses raises BreakerOpen at once (the caller parks the work and comes
back later); an unavailable gateway is retried a few times within the caller's budget,
then GatewayUnavailable is raised. A decline is an answer, so it counts as a success.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from write_side.fulfilment.breaker import CircuitBreaker
from write_side.fulfilment.gateway import (
    GatewayUnavailable,
    PaymentGateway,
    PaymentRequest,
    PaymentResult,
)
from write_side.fulfilment.observer import FulfilmentObserver, NoFulfilmentObserver

T = TypeVar("T")


class GuardedGateway:
    def __init__(
        self,
        gateway: PaymentGateway,
        breaker: CircuitBreaker,
        *,
        max_attempts: int = 3,
        backoff_base: float = 0.05,
        backoff_max: float = 1.0,
        observer: FulfilmentObserver | None = None,
    ) -> None:
        self.gateway = gateway
        self.breaker = breaker
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._observer = observer or NoFulfilmentObserver()

    async def authorize(self, request: PaymentRequest, *, budget: float) -> PaymentResult:
        return await self._call("authorize", lambda: self.gateway.authorize(request), budget)

    async def refund(
        self, order_id: str, authorization_id: str, amount: Decimal, *, budget: float
    ) -> None:
        await self._call(
            "refund", lambda: self.gateway.refund(order_id, authorization_id, amount), budget
        )

    async def _call(self, operation: str, call: Callable[[], Awaitable[T]], budget: float) -> T:
        started = time.monotonic()
        try:  # the common case, without tenacity's per-call setup cost
            return await self._once(operation, call)
        except GatewayUnavailable:
            left = budget - (time.monotonic() - started)
            if self._max_attempts <= 1 or left <= 0:
                raise
        await asyncio.sleep(random.uniform(0, self._backoff_base))  # full jitter
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(GatewayUnavailable),
            wait=wait_random_exponential(multiplier=self._backoff_base, max=self._backoff_max),
            stop=stop_after_attempt(self._max_attempts - 1) | stop_after_delay(left),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(operation, call)
        raise AssertionError("unreachable")

    async def _once(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        self.breaker.before_call()  # BreakerOpen is not retried here
        try:
            result = await call()
        except GatewayUnavailable:
            self.breaker.record_failure()
            self._observer.gateway_called(operation, "unavailable")
            raise
        except asyncio.CancelledError:
            self.breaker.record_abandoned()
            raise
        except Exception:
            self.breaker.record_failure()
            self._observer.gateway_called(operation, "error")
            raise
        self.breaker.record_success()
        self._observer.gateway_called(operation, "ok")
        return result
