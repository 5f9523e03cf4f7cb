"""Each aggregate's decider bundled with where its events live.

`Aggregate[S, C]` carries the aggregate's state type S and its command type C, so the
type checker refuses a command sent to the wrong aggregate (a stock command to an order).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

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


ORDER: Aggregate[order.OrderState, order.OrderCommand] = Aggregate(
    "order", order_subject, order.initial, order.decide, order.evolve
)
STOCK_ITEM: Aggregate[stock.StockState, stock.StockCommand] = Aggregate(
    "sku", stock_subject, stock.initial, stock.decide, stock.evolve
)
PAYMENT: Aggregate[payment.PaymentState, payment.PaymentCommand] = Aggregate(
    "payment", payment_subject, payment.initial, payment.decide, payment.evolve
)
