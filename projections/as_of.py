"""A view's row as of a point in its stream: the aggregate's stored messages, decoded as
the projector decodes them (`decode_fact`) and folded by the projection's own `fold`, so
that there is one definition of what a view row is. The answer has the shape of the live view's JSON
(`read_side/queries.py` renders the same columns in PostgreSQL): money as decimal strings
with two places, times as RFC 3339 UTC with microseconds.

A message that does not decode is skipped, as the projector dead-letters it; an order
whose `OrderPlaced` is missing has no row (the live view's UPDATEs find none either).
"""

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from events.codec import DecodeError
from events.envelope import format_timestamp, parse_timestamp
from events.money import format_money
from projections import orders, stock
from projections.facts import Fact, decode_fact

Stored = tuple[int, bytes, Mapping[str, str]]  # (seq, data, headers), in stream order
ViewFold = Callable[[str, str, Sequence[Stored]], dict[str, Any] | None]


def _decoded(stream: str, subject: str, messages: Sequence[Stored]) -> list[Fact]:
    facts = []
    for seq, data, headers in messages:
        try:
            facts.append(decode_fact(data, headers, stream=stream, seq=seq, subject=subject))
        except DecodeError:
            continue  # dead-lettered by the projector: not in the live view either
    return facts


def _money(value: object) -> str:
    return format_money(Decimal(str(value)))


def _time(text: str) -> str:
    return format_timestamp(parse_timestamp(text))


def order_row(stream: str, subject: str, messages: Sequence[Stored]) -> dict[str, Any] | None:
    folded = orders.fold(_decoded(stream, subject, messages))
    if len(folded) != 1:
        return None
    ((order_id, row),) = folded.items()
    if row.created_at is None or row.lines is None:
        return None
    return {
        "order_id": order_id,
        "customer_id": row.customer_id,
        "status": row.status,
        "currency": row.currency,
        "lines": [
            {
                "sku": line["sku"],
                "quantity": line["quantity"],
                "unit_price": _money(line["unit_price"]),
            }
            for line in row.lines
        ],
        "total": _money(row.total),
        "reason": row.reason,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "version": row.count,
    }


def stock_row(stream: str, subject: str, messages: Sequence[Stored]) -> dict[str, Any] | None:
    folded = stock.fold(_decoded(stream, subject, messages))
    if len(folded) != 1:
        return None
    ((sku, delta),) = folded.items()
    return {
        "sku": sku,
        "on_hand": delta.on_hand,
        "reserved": delta.reserved,
        "available": delta.on_hand - delta.reserved,
        "version": delta.count,
    }


VIEW_FOLDS: Mapping[str, ViewFold] = {"orders": order_row, "stock": stock_row}
