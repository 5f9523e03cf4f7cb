"""The stock view: on hand, reserved and version per SKU, as one upsert per batch of
per-SKU deltas."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table

from events.codec import RecordedEvent
from events.stock import (
    StockAdjusted,
    StockReceived,
    StockReservationReleased,
    StockReserved,
    StockShipped,
)
from events.subjects import STOCK
from projections.base import Connection, qualified
from read_side.tables import stock_items


@dataclass
class _Delta:
    on_hand: int
    reserved: int
    updated_at: datetime
    last_seq: int
    count: int = 0


def _change(recorded: RecordedEvent) -> tuple[int, int]:
    """(on_hand delta, reserved delta) of one event."""
    match recorded.event:
        case StockReceived(quantity=quantity):
            return quantity, 0
        case StockAdjusted(delta=delta):
            return delta, 0
        case StockReserved(quantity=quantity):
            return 0, quantity
        case StockReservationReleased(quantity=quantity):
            return 0, -quantity
        case StockShipped(quantity=quantity):
            return -quantity, -quantity
    raise TypeError(f"not a stock event: {recorded.event_type}")


def fold(events: Sequence[RecordedEvent]) -> dict[str, _Delta]:
    deltas: dict[str, _Delta] = {}
    for recorded in events:
        on_hand, reserved = _change(recorded)
        moment = recorded.envelope.occurred_at
        delta = deltas.setdefault(recorded.aggregate_id, _Delta(0, 0, moment, recorded.seq))
        delta.on_hand += on_hand
        delta.reserved += reserved
        delta.updated_at, delta.last_seq, delta.count = moment, recorded.seq, delta.count + 1
    return deltas


class StockProjection:
    name: str = "stock"
    stream: str = STOCK
    tables: tuple[Table, ...] = (stock_items,)

    async def apply(self, conn: Connection, schema: str, events: Sequence[RecordedEvent]) -> None:
        deltas = fold(events)
        if not deltas:
            return
        table = qualified(schema, stock_items)
        await conn.execute(
            f"""INSERT INTO {table} AS s (sku, on_hand, reserved, version, updated_at, last_seq)
            SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[],
                $5::timestamptz[], $6::bigint[])
            ON CONFLICT (sku) DO UPDATE SET
                on_hand = s.on_hand + EXCLUDED.on_hand,
                reserved = s.reserved + EXCLUDED.reserved,
                version = s.version + EXCLUDED.version,
                updated_at = EXCLUDED.updated_at,
                last_seq = EXCLUDED.last_seq""",
            list(deltas),
            [delta.on_hand for delta in deltas.values()],
            [delta.reserved for delta in deltas.values()],
            [delta.count for delta in deltas.values()],
            [delta.updated_at for delta in deltas.values()],
            [delta.last_seq for delta in deltas.values()],
        )
