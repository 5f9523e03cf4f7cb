"""The model of the read side: the stock invariant at every position, each view equal to
the fold of its stream, no dead letter and no undecodable event, and every read with
`after=` answered with a row at least as new as the position it named."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chaos.fold import Folded, OrderRow, StockRow
from chaos.history import Call
from chaos.violations import Violation, violation


def check_invariant(folded: Folded) -> list[Violation]:
    return [
        violation(
            "invariant",
            f"0 <= reserved <= on_hand broken at {e.stream}:{e.seq} ({e.subject} {e.type})",
            e.entity,
            e.order_id,
            at=(e.stream, e.seq),
        )
        for e in folded.broken
    ]


def check_view_rows(
    folded: Folded, orders: dict[str, OrderRow], stock: dict[str, StockRow], limit: int = 20
) -> list[Violation]:
    """The views PostgreSQL holds against the fold (`orders`/`stock` read by the caller)."""
    found = []
    for name, expected, actual in (
        ("orders", folded.orders, orders),
        ("stock", folded.stock, stock),
    ):
        wrong = sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))
        for key in wrong[:limit]:
            what = f"{name} view {key}: fold {expected.get(key)}, view {actual.get(key)}"
            found.append(violation("view", what, key))
        if len(wrong) > limit:
            found.append(violation("view", f"{name} view: {len(wrong)} rows differ in all"))
    return found


def order_rows(records: list[Any]) -> dict[str, OrderRow]:
    return {
        str(r["order_id"]): OrderRow(
            r["customer_id"],
            r["status"],
            Decimal(r["total"]),
            r["reason"],
            r["version"],
            r["last_seq"],
        )
        for r in records
    }


def stock_rows(records: list[Any]) -> dict[str, StockRow]:
    return {
        r["sku"]: StockRow(r["on_hand"], r["reserved"], r["version"], r["last_seq"])
        for r in records
    }


def check_reads(calls: list[Call], folded: Folded) -> list[Violation]:
    """A GET with `after=STREAM:seq` must answer a row that has applied that position."""
    found = []
    for call in calls:
        if call.method != "GET" or call.status not in (200, 404):
            if call.method == "GET" and 400 <= call.status < 500:
                found.append(violation("read", f"{call.path} answered {call.status}", call.path))
            continue
        url = urlsplit(call.path)
        kind, entity = url.path.split("/")[1:3]
        position = parse_qs(url.query)["after"][0]
        seq = int(position.partition(":")[2])
        subject = f"{'orders' if kind == 'orders' else 'stock'}.{entity}"
        wanted = folded.version_at(subject, seq)
        got = int((call.answer or {}).get("version", 0)) if call.status == 200 else 0
        if got < wanted:
            what = (
                f"GET {call.path} answered {call.status} version {got}: older than {position} "
                f"(version {wanted})"
            )
            found.append(violation("stale-read", what, entity, call.correlation_id))
    return found
