"""The StockItem aggregate. Invariant at every position: `0 <= reserved <= on_hand`.

Reservations are kept per order, so reserving, releasing and shipping are idempotent: an
order that already holds a reservation is not reserved again, and releasing or shipping an
order that holds none does nothing.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from events.base import Event
from events.stock import (
    StockAdjusted,
    StockReceived,
    StockReservationReleased,
    StockReserved,
    StockShipped,
)
from write_side.errors import AggregateNotFound, RuleViolation

_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class StockState:
    sku: str
    exists: bool = False
    on_hand: int = 0
    reservations: Mapping[str, int] = field(default_factory=lambda: _EMPTY)

    @property
    def reserved(self) -> int:
        return sum(self.reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class ReceiveStock:
    quantity: int


@dataclass(frozen=True)
class AdjustStock:
    delta: int
    reason: str


@dataclass(frozen=True)
class ReserveStock:
    order_id: str
    quantity: int


@dataclass(frozen=True)
class ReleaseReservation:
    order_id: str


@dataclass(frozen=True)
class ShipReserved:
    order_id: str


StockCommand = ReceiveStock | AdjustStock | ReserveStock | ReleaseReservation | ShipReserved


class OutOfStock(RuleViolation):
    def __init__(self, sku: str, wanted: int, available: int) -> None:
        super().__init__("out-of-stock", f"{sku}: {wanted} wanted, {available} available")
        self.sku = sku
        self.wanted = wanted
        self.available = available


def initial(sku: str) -> StockState:
    return StockState(sku=sku)


def decide(state: StockState, command: StockCommand) -> list[Event]:
    match command:
        case ReceiveStock(quantity=quantity):
            return [StockReceived(quantity=quantity)]
        case AdjustStock(delta=delta, reason=reason):
            if not state.exists:
                raise AggregateNotFound("sku", state.sku)
            if state.on_hand + delta < state.reserved:
                raise RuleViolation(
                    "insufficient-stock",
                    f"{state.sku}: on_hand {state.on_hand} + delta {delta} would fall below "
                    f"the {state.reserved} units reserved",
                )
            return [StockAdjusted(delta=delta, reason=reason)]
        case ReserveStock(order_id=order_id, quantity=quantity):
            if order_id in state.reservations:
                return []
            if quantity > state.available:
                raise OutOfStock(state.sku, quantity, max(state.available, 0))
            return [StockReserved(order_id=order_id, quantity=quantity)]
        case ReleaseReservation(order_id=order_id):
            held = state.reservations.get(order_id)
            if held is None:
                return []
            return [StockReservationReleased(order_id=order_id, quantity=held)]
        case ShipReserved(order_id=order_id):
            held = state.reservations.get(order_id)
            if held is None:
                return []
            return [StockShipped(order_id=order_id, quantity=held)]
    raise TypeError(f"not a stock command: {command!r}")


def _without(reservations: Mapping[str, int], order_id: str) -> Mapping[str, int]:
    return MappingProxyType({k: v for k, v in reservations.items() if k != order_id})


def evolve(state: StockState, event: Event) -> StockState:
    match event:
        case StockReceived(quantity=quantity):
            return replace(state, exists=True, on_hand=state.on_hand + quantity)
        case StockAdjusted(delta=delta):
            return replace(state, exists=True, on_hand=state.on_hand + delta)
        case StockReserved(order_id=order_id, quantity=quantity):
            reservations = MappingProxyType({**state.reservations, order_id: quantity})
            return replace(state, reservations=reservations)
        case StockReservationReleased(order_id=order_id):
            return replace(state, reservations=_without(state.reservations, order_id))
        case StockShipped(order_id=order_id, quantity=quantity):
            return replace(
                state,
                on_hand=state.on_hand - quantity,
                reservations=_without(state.reservations, order_id),
            )
    return state
