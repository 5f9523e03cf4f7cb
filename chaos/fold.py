"""The model's fold of the streams, written here again so that a bug in the product's
deciders or projections cannot hide behind its own code: order rows, stock rows with the
invariant checked at every position, reservations held at the end, and each subject's
sequences (to tell what version an aggregate had at a given position)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from chaos.streams import Stored

STATUS = {
    "OrderPlaced": "pending",
    "OrderConfirmed": "confirmed",
    "OrderRejected": "rejected",
    "OrderCancelled": "cancelled",
    "OrderShipped": "shipped",
}
# (on_hand sign, reserved sign) per unit of quantity/delta
STOCK_CHANGE = {
    "StockReceived": (1, 0),
    "StockAdjusted": (1, 0),
    "StockReserved": (0, 1),
    "StockReservationReleased": (0, -1),
    "StockShipped": (-1, -1),
}


@dataclass(frozen=True)
class OrderRow:
    customer_id: str
    status: str
    total: Decimal
    reason: str | None
    version: int
    last_seq: int


@dataclass(frozen=True)
class StockRow:
    on_hand: int
    reserved: int
    version: int
    last_seq: int


@dataclass
class Folded:
    orders: dict[str, OrderRow] = field(default_factory=dict)
    lines: dict[str, dict[str, int]] = field(default_factory=dict)  # order -> sku -> quantity
    stock: dict[str, StockRow] = field(default_factory=dict)
    held: dict[tuple[str, str], int] = field(default_factory=dict)  # (sku, order) -> units
    broken: list[Stored] = field(default_factory=list)  # where 0 <= reserved <= on_hand fails
    seqs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def version_at(self, subject: str, seq: int) -> int:
        """How many events `subject` had at stream position `seq`."""
        return bisect.bisect_right(self.seqs.get(subject, []), seq)


def fold(orders: list[Stored], stock: list[Stored]) -> Folded:
    folded = Folded()
    for event in orders:
        folded.seqs[event.subject].append(event.seq)
        _order(folded, event)
    for event in stock:
        folded.seqs[event.subject].append(event.seq)
        _stock(folded, event)
    return folded


def _order(folded: Folded, event: Stored) -> None:
    order, data = event.entity, event.data
    if event.type == "OrderPlaced":
        total = Decimal(str(data["total"]))
        folded.orders[order] = OrderRow(data["customer_id"], "pending", total, None, 1, event.seq)
        wanted: dict[str, int] = {}
        for line in data["lines"]:
            wanted[line["sku"]] = wanted.get(line["sku"], 0) + int(line["quantity"])
        folded.lines[order] = wanted
        return
    row = folded.orders.get(order)
    if row is None:  # an event before its OrderPlaced: the view ignores it, so do we
        return
    reason = data.get("reason") if event.type in ("OrderRejected", "OrderCancelled") else None
    folded.orders[order] = OrderRow(
        row.customer_id, STATUS[event.type], row.total, reason, row.version + 1, event.seq
    )


def _stock(folded: Folded, event: Stored) -> None:
    sku, data = event.entity, event.data
    amount = int(data.get("quantity", data.get("delta", 0)))
    on_hand_sign, reserved_sign = STOCK_CHANGE[event.type]
    row = folded.stock.get(sku, StockRow(0, 0, 0, 0))
    on_hand = row.on_hand + on_hand_sign * amount
    reserved = row.reserved + reserved_sign * amount
    folded.stock[sku] = StockRow(on_hand, reserved, row.version + 1, event.seq)
    if not 0 <= reserved <= on_hand:
        folded.broken.append(event)
    if "order_id" in data:
        key = (sku, str(data["order_id"]))
        if event.type == "StockReserved":
            folded.held[key] = folded.held.get(key, 0) + amount
        else:
            folded.held.pop(key, None)
