"""`python -m chaos.state_memory`: what an open order costs in the memory of a process that
decides on it, measured with tracemalloc on the write side's own folds (no servers).

A process keeps folded states in its command service's cache (`write_side/command_service.py`):
an order's state (`orders.<id>`, with its lines), its payment's (`payments.<id>`, in
fulfilment), and the state of every SKU it touches, which holds one reservation per open
order line (`write_side/domain/stock.py`). The cache bounds the number of states; a SKU's
reservations grow with the orders that hold it, whatever the bound."""

from __future__ import annotations

import gc
import sys
import tracemalloc
import uuid
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal

from events.orders import OrderConfirmed, OrderLine, OrderPlaced
from events.payments import PaymentAuthorized
from events.stock import StockReserved
from write_side.aggregates import ORDER, PAYMENT, STOCK_ITEM

COUNT = 20_000


def bytes_each(build: Callable[[int], object], count: int = COUNT) -> float:
    """Traced bytes still held after `build(i)` for i < count, per item."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [build(i) for i in range(count)]
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del kept
    return held / count


def open_order(lines: int) -> Callable[[int], object]:
    """A confirmed order's state, cached as the command service caches it."""

    def build(_: int) -> object:
        order_id = str(uuid.uuid4())
        placed = OrderPlaced(
            customer_id="soak",
            currency="EUR",
            lines=tuple(
                OrderLine(sku=f"SKU-{n}", quantity=1, unit_price=Decimal("3.50"))
                for n in range(lines)
            ),
            total=Decimal("3.50") * lines,
        )
        state = ORDER.evolve(ORDER.initial(order_id), placed)
        state = ORDER.evolve(state, OrderConfirmed(authorization_id=f"auth-{order_id}"))
        return (f"orders.{order_id}", state, 2)  # as cached: key, state, sequence

    return build


def payment(_: int) -> object:
    order_id = str(uuid.uuid4())
    authorized = PaymentAuthorized(
        amount=Decimal("7.00"), currency="EUR", authorization_id=f"auth-{order_id}"
    )
    state = PAYMENT.evolve(PAYMENT.initial(order_id), authorized)
    return (f"payments.{order_id}", state, 1)


def reservations(count: int) -> float:
    """Bytes per reservation held in one SKU's state."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    state = STOCK_ITEM.initial("SKU-1")
    for _ in range(count):
        reserved = StockReserved(order_id=str(uuid.uuid4()), quantity=1)
        state = STOCK_ITEM.evolve(state, reserved)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / count


def cache_slots(count: int = COUNT) -> float:
    """The cache's own cost per entry (an OrderedDict slot), beyond key and value."""
    keys = [f"orders.{uuid.uuid4()}" for _ in range(count)]
    value = object()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache: OrderedDict[str, object] = OrderedDict((key, value) for key in keys)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del cache
    return held / count


def main() -> int:
    print(f"python {sys.version.split()[0]}, {COUNT:,} of each, tracemalloc")
    for lines in (1, 2, 3):
        size = bytes_each(open_order(lines))
        print(f"order state, {lines} line(s), with its cache key: {size:,.0f} bytes")
    print(f"payment state with its cache key: {bytes_each(payment):,.0f} bytes")
    print(f"cache slot (OrderedDict entry): {cache_slots():,.0f} bytes")
    for count in (1_000, 100_000):
        print(f"reservation in a SKU's state ({count:,} held): {reservations(count):,.0f} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
