"""Events of the Payment aggregate (`payments.<order_id>`, stream PAYMENTS)."""

from typing import ClassVar

from pydantic import Field

from events.base import Event
from events.money import Money
from events.orders import CURRENCY_PATTERN


class PaymentAuthorized(Event):
    event_type: ClassVar[str] = "PaymentAuthorized"

    amount: Money
    currency: str = Field(pattern=CURRENCY_PATTERN)
    authorization_id: str = Field(min_length=1, max_length=200)


class PaymentDeclined(Event):
    event_type: ClassVar[str] = "PaymentDeclined"

    reason: str = Field(max_length=2000)


class PaymentRefunded(Event):
    event_type: ClassVar[str] = "PaymentRefunded"

    amount: Money


PAYMENT_EVENTS: tuple[type[Event], ...] = (PaymentAuthorized, PaymentDeclined, PaymentRefunded)
