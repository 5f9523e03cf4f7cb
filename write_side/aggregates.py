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


def _one(state: object) -> int:
    return 1


# A stock item's open reservation takes ~125-150 bytes of memory (its order id and its
# entry in an `immutables.Map`; ~210 in pyrsistent's `pmap` before session 11), a folded
# order state ~1.2 KB with its cache key (`python -m chaos.state_memory`): eight
# reservations count as one state (five before).
RESERVATIONS_PER_STATE = 8


@dataclass(frozen=True)
class Aggregate(Generic[S, C]):
    """`weight`: what a folded state counts against the command service's cache bound:
    1, plus its share of a collection that grows with the aggregate's history (a stock
    item's open reservations, by their memory), so a few huge states cannot fill the
    memory. Counting each reservation as a whole state made 100 hot stock items outgrow
    the default bound after ~25,000 unshipped orders (a fifth of a state: ~125,000;
    an eighth, since the reservations became an `immutables.Map`: ~200,000); past it,
    the cache keeps the states that fit (`state_cache.py`) and the others are read from
    their snapshots."""

    kind: str
    subject: Callable[[str], str]
    initial: Callable[[str], S]
    decide: Callable[[S, C], list[Event]]
    evolve: Callable[[S, Event], S]
    weight: Callable[[S], int] = _one


def _stock_weight(state: stock.StockState) -> int:
    return 1 + len(state.reservations) // RESERVATIONS_PER_STATE


ORDER: Aggregate[order.OrderState, order.OrderCommand] = Aggregate(
    "order", order_subject, order.initial, order.decide, order.evolve
)
STOCK_ITEM: Aggregate[stock.StockState, stock.StockCommand] = Aggregate(
    "sku", stock_subject, stock.initial, stock.decide, stock.evolve, _stock_weight
)
PAYMENT: Aggregate[payment.PaymentState, payment.PaymentCommand] = Aggregate(
    "payment", payment_subject, payment.initial, payment.decide, payment.evolve
)
