"""The built-in payment gateway (SPEC §1): declines totals above the limit (a total equal
to it is authorized) and is unavailable for a fraction of calls."""

import random
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

from events.ids import NameIds
from write_side.fulfilment.gateway import (
    Authorized,
    Declined,
    GatewayUnavailable,
    PaymentRequest,
    PaymentResult,
)

_AUTH_NAMESPACE = uuid5(NAMESPACE_URL, "https://tally.example/simulated-gateway")
_authorization_ids = NameIds(_AUTH_NAMESPACE)  # uuid5 in that namespace, in half its time


class SimulatedGateway:
    """`failure_rate` may be changed while running (tests switch the gateway off and on);
    pass a seeded `rng` for repeatable failures. `calls` counts every call made."""

    def __init__(
        self, *, limit: Decimal, failure_rate: float = 0.0, rng: random.Random | None = None
    ) -> None:
        self.limit = limit
        self.failure_rate = failure_rate
        self.calls = 0
        self.refunds: dict[str, Decimal] = {}
        self._rng = rng or random.Random()

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.failure_rate > 0 and self._rng.random() < self.failure_rate:
            raise GatewayUnavailable("simulated gateway failure")

    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        self._maybe_fail()
        if request.amount > self.limit:
            return Declined(f"total {request.amount} exceeds the limit {self.limit}")
        # The same order always gets the same authorization, as a real gateway would give
        # for a repeated idempotency key.
        return Authorized(f"sim-{_authorization_ids(request.idempotency_key)}")

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        self._maybe_fail()
        self.refunds[order_id] = amount

    async def aclose(self) -> None:
        return None
