"""The stock view: on hand, reserved and version per SKU, as one upsert per batch of
per-SKU deltas folded over plain values (`Fact`s), sent as one JSON parameter (encoded by
msgspec) that `json_to_recordset` unpacks."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from events.subjects import STOCK
from projections.base import Connection, qualified
from projections.facts import Fact

if TYPE_CHECKING:
    from sqlalchemy import Table

STOCK_TABLE = "stock_items"  # read_side.tables.stock_items

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


# (on hand, reserved) each unit of an event's quantity moves, by event type
_MOVES: dict[str, tuple[int, int]] = {
    "StockReceived": (1, 0),
    "StockReserved": (0, 1),
    "StockReservationReleased": (0, -1),
    "StockShipped": (-1, -1),
}


def fold(facts: Sequence[Fact]) -> dict[str, Delta]:
    deltas: dict[str, Delta] = {}
    moves = _MOVES
    for fact in facts:
        data, kind = fact.data, fact.type
        move = moves.get(kind)
        if move is not None:
            quantity = data["quantity"]
            on_hand, reserved = move[0] * quantity, move[1] * quantity
        elif kind == "StockAdjusted":
            on_hand, reserved = data["delta"], 0
        else:
            raise TypeError(f"not a stock event: {kind}")
        delta = deltas.get(fact.key)
        if delta is None:
            deltas[fact.key] = Delta(fact.key, on_hand, reserved, fact.occurred_at, fact.seq, 1)
            continue
        delta.on_hand += on_hand
        delta.reserved += reserved
        delta.updated_at, delta.last_seq, delta.count = fact.occurred_at, fact.seq, delta.count + 1
    return deltas


class StockProjection:
    name: str = "stock"
    stream: str = STOCK

    @property
    def tables(self) -> "tuple[Table, ...]":
        # imported when asked (a replay, the audit): SQLAlchemy is not a projector's start-up
        from read_side.tables import stock_items

        return (stock_items,)

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        deltas = fold(facts)
        if not deltas:
            return
        table = qualified(schema, STOCK_TABLE)
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
