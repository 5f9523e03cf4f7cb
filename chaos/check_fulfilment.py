"""The model of the fulfilment process: each of its events traced to the order event that
caused it (causation id = that event's id, same correlation id, same order), each step
stored at most once, every order final (or confirmed) with the stock and money that its
state implies, and the gateway's books agreeing with the PAYMENTS stream."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from chaos.fold import Folded
from chaos.streams import Streams
from chaos.violations import Violation, violation

TRIGGERS = frozenset({"OrderPlaced", "OrderCancelled", "OrderShipped"})
ONCE_PER_ORDER = (
    "OrderConfirmed",
    "OrderRejected",
    "PaymentAuthorized",
    "PaymentDeclined",
    "PaymentRefunded",
)
ONCE_PER_SKU = ("StockReserved", "StockReservationReleased", "StockShipped")


def check_traced(streams: Streams) -> list[Violation]:
    """Every event the process made names an order event of the same order as its cause."""
    triggers = {e.event_id: e for e in streams.events["ORDERS"] if e.type in TRIGGERS}
    found = []
    for event in streams.all():
        if event.type in TRIGGERS or event.type in ("StockReceived", "StockAdjusted"):
            continue
        cause = triggers.get(event.causation_id or "")
        if cause is None or cause.entity != event.order_id:
            what = f"{event.type} at {event.stream}:{event.seq} not traced to its order's event"
            found.append(violation("untraced", what, event.order_id, event.correlation_id))
        elif cause.correlation_id != event.correlation_id:
            what = f"{event.type} at {event.stream}:{event.seq} has another correlation id"
            found.append(violation("untraced", what, event.order_id, event.correlation_id))
    return found


def check_steps_once(streams: Streams) -> list[Violation]:
    counted: Counter[tuple[str, str, str]] = Counter()
    for event in streams.all():
        if event.type in ONCE_PER_ORDER:
            counted[(event.type, event.order_id or "", "")] += 1
        elif event.type in ONCE_PER_SKU:
            counted[(event.type, event.order_id or "", event.entity)] += 1
    return [
        violation("step-twice", f"{kind} for order {order} {sku} stored {n} times", order, sku)
        for (kind, order, sku), n in counted.items()
        if n > 1
    ]


def check_outcomes(streams: Streams, folded: Folded) -> list[Violation]:
    """Each order's end state and what it holds: stock, authorization, refund."""
    payments: dict[str, set[str]] = defaultdict(set)
    shipped: dict[str, dict[str, int]] = defaultdict(dict)
    for event in streams.events["PAYMENTS"]:
        payments[event.entity].add(event.type)
    for event in streams.events["STOCK"]:
        if event.type == "StockShipped":
            shipped[str(event.data["order_id"])][event.entity] = int(event.data["quantity"])
    held: dict[str, dict[str, int]] = defaultdict(dict)
    for (sku, order), units in folded.held.items():
        held[order][sku] = units
    found = []
    for order, row in folded.orders.items():
        paid, lines = payments[order], folded.lines[order]
        problem = None
        if row.status == "pending":
            problem = "still pending after everything caught up"
        elif row.status == "confirmed" and (
            held[order] != lines or "PaymentAuthorized" not in paid
        ):
            problem = f"confirmed holding {held[order]} of {lines}, payments {sorted(paid)}"
        elif row.status == "shipped" and (held[order] or shipped[order] != lines):
            problem = f"shipped {shipped[order]} of {lines}, still holding {held[order]}"
        elif row.status in ("rejected", "cancelled") and held[order]:
            problem = f"{row.status} but still holding {held[order]}"
        elif (
            row.status in ("rejected", "cancelled")
            and "PaymentAuthorized" in paid
            and ("PaymentRefunded" not in paid)
        ):
            problem = f"{row.status} with an authorized payment never refunded"
        elif row.reason == "out_of_stock" and "PaymentAuthorized" in paid:
            problem = "rejected out_of_stock after its payment was authorized"
        if problem:
            found.append(violation("outcome", f"order {order} {row.status}: {problem}", order))
    return found


def check_ledger(
    streams: Streams, folded: Folded, ledger: dict[str, Any]
) -> tuple[list[Violation], list[str]]:
    """The gateway's books against the PAYMENTS stream; and the authorizations Tally never
    heard of (answer lost, deadline passed): a known limit, returned as notes."""
    authorized = {
        e.entity: e.data for e in streams.events["PAYMENTS"] if e.type == "PaymentAuthorized"
    }
    refunded = {e.entity for e in streams.events["PAYMENTS"] if e.type == "PaymentRefunded"}
    charged: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in ledger["authorizations"].values():
        if entry["answer"]["status"] == "authorized":
            charged[entry["order_id"]].append(entry)
    refunds = Counter(entry["order_id"] for entry in ledger["refunds"].values())
    found, notes = [], []
    for order, entries in charged.items():
        row = folded.orders.get(order)
        status = row.status if row else "unknown"
        if len(entries) > 1:
            found.append(
                violation("charged-twice", f"order {order} authorized {len(entries)}x", order)
            )
        mine = authorized.get(order)
        if mine is None:
            notes.append(f"order {order} ({status}): authorized at the gateway, never recorded")
            continue
        if mine["authorization_id"] != entries[0]["answer"]["authorization_id"]:
            found.append(violation("ledger", f"order {order}: another authorization id", order))
        if Decimal(str(mine["amount"])) != Decimal(entries[0]["amount"]):
            found.append(violation("ledger", f"order {order}: amount differs", order))
    for order, count in refunds.items():
        if order not in refunded or count > 1:
            what = f"order {order}: refunded {count}x at the gateway, recorded: {order in refunded}"
            found.append(violation("ledger", what, order))
    for order in refunded - set(refunds):
        found.append(violation("ledger", f"order {order}: refund recorded, never made", order))
    return found, notes
