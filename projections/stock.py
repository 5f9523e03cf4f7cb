"""The stock view: on hand, reserved and version per SKU, as one upsert per batch of
per-SKU deltas folded over plain values (`Fact`s), sent as one JSON parameter (encoded by
msgspec) that `json_to_recordset` unpacks."""

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy import Table

from events.subjects import STOCK
from projections.base import Connection, qualified
from projections.facts import Fact
from read_side.tables import stock_items

_json = msgspec.json.Encoder()


@dataclass(slots=True)
class Delta:
    """What a batch does to one SKU's row; encoded as a JSON object, its fields named as the
    SQL's record columns."""

    sku: str
    on_hand: int
    reserved: int
    updated_at: str
    last_seq: int
    count: int = 0


def _change(fact: Fact) -> tuple[int, int]:
    """(on_hand delta, reserved delta) of one event."""
    kind, data = fact.type, fact.data
    if kind == "StockReceived":
        return data["quantity"], 0
    if kind == "StockAdjusted":
        return data["delta"], 0
    if kind == "StockReserved":
        return 0, data["quantity"]
    if kind == "StockReservationReleased":
        return 0, -data["quantity"]
    if kind == "StockShipped":
        return -data["quantity"], -data["quantity"]
    raise TypeError(f"not a stock event: {kind}")


def fold(facts: Sequence[Fact]) -> dict[str, Delta]:
    deltas: dict[str, Delta] = {}
    for fact in facts:
        on_hand, reserved = _change(fact)
        delta = deltas.get(fact.key)
        if delta is None:
            delta = deltas[fact.key] = Delta(fact.key, 0, 0, fact.occurred_at, fact.seq)
        delta.on_hand += on_hand
        delta.reserved += reserved
        delta.updated_at, delta.last_seq, delta.count = fact.occurred_at, fact.seq, delta.count + 1
    return deltas


class StockProjection:
    name: str = "stock"
    stream: str = STOCK
    tables: tuple[Table, ...] = (stock_items,)

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        deltas = fold(facts)
        if not deltas:
            return
        table = qualified(schema, stock_items)
        await conn.execute(
            f"""INSERT INTO {table} AS s (sku, on_hand, reserved, version, updated_at, last_seq)
            SELECT sku, on_hand, reserved, count, updated_at, last_seq
            FROM json_to_recordset($1::json) AS d(sku text, on_hand bigint, reserved bigint,
                count int, updated_at timestamptz, last_seq bigint)
            ON CONFLICT (sku) DO UPDATE SET
                on_hand = s.on_hand + EXCLUDED.on_hand,
                reserved = s.reserved + EXCLUDED.reserved,
                version = s.version + EXCLUDED.version,
                updated_at = EXCLUDED.updated_at,
                last_seq = EXCLUDED.last_seq""",
            _json.encode(list(deltas.values())).decode(),
        )
