"""What must hold after fulfilment survived its crashes: no order left pending, stock held
only by confirmed orders (exactly their lines), money kept only for confirmed or shipped
orders, every refund taken at the gateway recorded once, no step's event stored twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nats.aio.client import Client as NATS

from support.fulfilment import Shop
from support.ledger_gateway import Ledger
from support.stream_fold import fold_stock, read_stream
from write_side.fulfilment.plan import reservation_plan


async def outstanding(
    shop: Shop, ledger: Ledger, order_ids: list[str], skus: list[str]
) -> list[str]:
    """Every way the orders, stock and payments disagree with a settled world ([] = none)."""
    problems: list[str] = []
    held: dict[str, dict[str, int]] = {}
    for sku in skus:
        for order_id, quantity in (await shop.stock(sku)).reservations.items():
            held.setdefault(order_id, {})[sku] = quantity
    for order_id in order_ids:
        order, payment = await shop.order(order_id), await shop.payment(order_id)
        status, kept = order.status, ledger.kept(order_id)
        want = dict(reservation_plan(order.lines)) if status == "confirmed" else {}
        if status not in ("confirmed", "rejected", "cancelled", "shipped"):
            problems.append(f"{order_id} is {status}")
        if held.get(order_id, {}) != want:
            problems.append(f"{order_id} ({status}) holds {held.get(order_id)}, wants {want}")
        if status in ("confirmed", "shipped"):
            if kept != order.total or payment.authorization_id is None or payment.refunded:
                problems.append(f"{order_id} ({status}): kept {kept} of {order.total}, {payment}")
        elif kept != 0 or payment.refunded != (order_id in ledger.refunded):
            problems.append(f"{order_id} ({status}): gateway keeps {kept}, {payment}")
    if ledger.doubled:
        problems.append(f"charged twice: {ledger.doubled}")
    return problems


async def doubled_events(nc: NATS) -> tuple[list[str], list[str], int]:
    """Events of one (aggregate, step) stored twice, stock invariant breaks, event count."""
    seen: Counter[tuple[str, str, Any]] = Counter()
    broken: list[str] = []
    count = 0
    for stream in ("ORDERS", "STOCK", "PAYMENTS"):
        read = await read_stream(nc, stream)
        count += len(read.events)
        for recorded in read.events:
            data = recorded.event.model_dump()
            seen[(recorded.subject, recorded.event_type, data.get("order_id"))] += 1
        if stream == "STOCK":
            broken = fold_stock(read.events)[1]
    doubled = [f"{key} x{n}" for key, n in seen.items() if n > 1 and key[1] != "StockReceived"]
    return doubled, broken, count
