"""The Payment aggregate: at most one authorization per order, refunded at most once."""

from dataclasses import dataclass, replace
from decimal import Decimal

from events.base import Event
from events.payments import PaymentAuthorized, PaymentDeclined, PaymentRefunded
from write_side.errors import RuleViolation


@dataclass(frozen=True)
class PaymentState:
    order_id: str
    authorization_id: str | None = None
    amount: Decimal = Decimal(0)
    declined: bool = False
    refunded: bool = False


@dataclass(frozen=True)
class RecordAuthorization:
    amount: Decimal
    currency: str
    authorization_id: str


@dataclass(frozen=True)
class RecordDecline:
    reason: str


@dataclass(frozen=True)
class Refund:
    pass


PaymentCommand = RecordAuthorization | RecordDecline | Refund


def initial(order_id: str) -> PaymentState:
    return PaymentState(order_id=order_id)


def decide(state: PaymentState, command: PaymentCommand) -> list[Event]:
    match command:
        case RecordAuthorization(amount=amount, currency=currency, authorization_id=auth_id):
            if state.authorization_id is not None or state.declined:
                return []
            return [PaymentAuthorized(amount=amount, currency=currency, authorization_id=auth_id)]
        case RecordDecline(reason=reason):
            if state.authorization_id is not None:
                raise RuleViolation("payment-authorized", f"{state.order_id} is authorized")
            if state.declined:
                return []
            return [PaymentDeclined(reason=reason)]
        case Refund():
            if state.authorization_id is None or state.refunded:
                return []
            return [PaymentRefunded(amount=state.amount)]
    raise TypeError(f"not a payment command: {command!r}")


def evolve(state: PaymentState, event: Event) -> PaymentState:
    match event:
        case PaymentAuthorized(amount=amount, authorization_id=authorization_id):
            return replace(state, authorization_id=authorization_id, amount=amount)
        case PaymentDeclined():
            return replace(state, declined=True)
        case PaymentRefunded():
            return replace(state, refunded=True)
    return state
