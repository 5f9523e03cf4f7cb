"""The Order aggregate: `pending -> confirmed -> shipped`, `pending -> rejected`,
`pending | confirmed -> cancelled`."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from events.base import Event
from events.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    RejectionReason,
)
from write_side.errors import AggregateNotFound, RuleViolation

Status = Literal["pending", "confirmed", "rejected", "cancelled", "shipped"]
FINAL: frozenset[Status] = frozenset({"rejected", "cancelled", "shipped"})


@dataclass(frozen=True)
class OrderState:
    order_id: str
    status: Status | None = None  # None: the order does not exist yet
    customer_id: str = ""
    currency: str = "EUR"
    lines: tuple[OrderLine, ...] = ()
    total: Decimal = Decimal(0)

    @property
    def exists(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class ConfirmOrder:
    authorization_id: str


@dataclass(frozen=True)
class RejectOrder:
    reason: RejectionReason
    detail: str = ""


@dataclass(frozen=True)
class CancelOrder:
    reason: str = ""


@dataclass(frozen=True)
class ShipOrder:
    pass


OrderCommand = PlaceOrder | ConfirmOrder | RejectOrder | CancelOrder | ShipOrder


def initial(order_id: str) -> OrderState:
    return OrderState(order_id=order_id)


def _require(state: OrderState) -> Status:
    if state.status is None:
        raise AggregateNotFound("order", state.order_id)
    return state.status


def _refuse(state: OrderState, action: str, status: Status) -> RuleViolation:
    code = "order-final" if status in FINAL else "invalid-order-state"
    return RuleViolation(code, f"cannot {action} order {state.order_id}: it is {status}")


def decide(state: OrderState, command: OrderCommand) -> list[Event]:
    match command:
        case PlaceOrder(customer_id=customer_id, currency=currency, lines=lines):
            if state.exists:
                raise RuleViolation("order-exists", f"order {state.order_id} already exists")
            total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
            return [
                OrderPlaced(customer_id=customer_id, currency=currency, lines=lines, total=total)
            ]
        case ConfirmOrder(authorization_id=authorization_id):
            status = _require(state)
            if status == "confirmed":
                return []
            if status != "pending":
                raise _refuse(state, "confirm", status)
            return [OrderConfirmed(authorization_id=authorization_id)]
        case RejectOrder(reason=reason, detail=detail):
            status = _require(state)
            if status == "rejected":
                return []
            if status != "pending":
                raise _refuse(state, "reject", status)
            return [OrderRejected(reason=reason, detail=detail)]
        case CancelOrder(reason=reason):
            status = _require(state)
            if status not in ("pending", "confirmed"):
                raise _refuse(state, "cancel", status)
            return [OrderCancelled(reason=reason)]
        case ShipOrder():
            status = _require(state)
            if status != "confirmed":
                raise _refuse(state, "ship", status)
            return [OrderShipped()]
    raise TypeError(f"not an order command: {command!r}")


def evolve(state: OrderState, event: Event) -> OrderState:
    match event:
        case OrderPlaced():
            return OrderState(
                order_id=state.order_id,
                status="pending",
                customer_id=event.customer_id,
                currency=event.currency,
                lines=event.lines,
                total=event.total,
            )
        case OrderConfirmed():
            return _with_status(state, "confirmed")
        case OrderRejected():
            return _with_status(state, "rejected")
        case OrderCancelled():
            return _with_status(state, "cancelled")
        case OrderShipped():
            return _with_status(state, "shipped")
    return state


def _with_status(state: OrderState, status: Status) -> OrderState:
    return OrderState(
        order_id=state.order_id,
        status=status,
        customer_id=state.customer_id,
        currency=state.currency,
        lines=state.lines,
        total=state.total,
    )
