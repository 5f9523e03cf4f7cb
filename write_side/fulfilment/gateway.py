"""What the fulfilment process needs from a payment gateway, whichever one it is."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class PaymentRequest:
    order_id: str
    amount: Decimal
    currency: str

    @property
    def idempotency_key(self) -> str:
        """The gateway sees the same key for every attempt to charge this order."""
        return f"tally-authorize-{self.order_id}"


@dataclass(frozen=True)
class Authorized:
    authorization_id: str


@dataclass(frozen=True)
class Declined:
    reason: str


PaymentResult = Authorized | Declined


class GatewayUnavailable(Exception):
    """The gateway did not answer, timed out or failed; the call may be tried again."""


class PaymentGateway(Protocol):
    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        """Authorized or Declined; raises GatewayUnavailable. Idempotent per order."""
        ...

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        """Gives the money back; raises GatewayUnavailable. Idempotent per order."""
        ...

    async def aclose(self) -> None: ...
