"""Each aggregate's decider bundled with where its events live."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from events.base import Event
from events.subjects import order_subject, payment_subject, stock_subject
from write_side.domain import order, payment, stock

S = TypeVar("S")
C = TypeVar("C")


@dataclass(frozen=True)
class Aggregate(Generic[S, C]):
    kind: str
    subject: Callable[[str], str]
    initial: Callable[[str], S]
    decide: Callable[[S, C], list[Event]]
    evolve: Callable[[S, Event], S]


ORDER: Aggregate[order.OrderState, Any] = Aggregate(
    "order", order_subject, order.initial, order.decide, order.evolve
)
STOCK_ITEM: Aggregate[stock.StockState, Any] = Aggregate(
    "sku", stock_subject, stock.initial, stock.decide, stock.evolve
)
PAYMENT: Aggregate[payment.PaymentState, Any] = Aggregate(
    "payment", payment_subject, payment.initial, payment.decide, payment.evolve
)
