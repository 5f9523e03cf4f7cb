"""The two views of the catch-up floor (bench.projection_floor), with none of Tally's
projection code: each message's body decoded by msgspec into plain values (no validation),
its type and time read from the headers nats-py parsed, the batch kept as plain columns and
written with the plainest SQL a PostgreSQL user would write, typed arrays through asyncpg's
binary codec unpacked by `unnest`, into Tally's migrated tables:

- orders: one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING` for the orders
  placed in the batch, one `UPDATE ... FROM unnest(...)` for the orders confirmed;
- stock: the batch folded per SKU in a dict, one upsert of those rows.

It folds the events the catch-up bench publishes (OrderPlaced, OrderConfirmed; the stock
moves) and refuses any other type: a floor that writes the wrong rows is no floor.

Without headers (`headers=False`: the same bodies in a stream of their own, as the raw
read's no-header baseline reads them, so nats-py parses no header block), an event's type
is told from its body's fields (an OrderPlaced has a customer, a StockReserved an order)
and its time is the one the stream stored (in the ack subject): the same work, the same
rows but for their times and sequences (the copy's).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import asyncpg
import msgspec
from nats.aio.msg import Msg

from events.envelope import EVENT_TYPE, OCCURRED_AT

_decode = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()

PLACED = """INSERT INTO orders (order_id, customer_id, status, currency, total, reason,
    created_at, updated_at, version, last_seq, lines)
SELECT id, customer, 'pending', currency, total, NULL, at, at, 1, seq, lines
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[], $5::timestamptz[],
    $6::bigint[], $7::jsonb[]) AS n(id, customer, currency, total, at, seq, lines)
ON CONFLICT (order_id) DO NOTHING"""
CONFIRMED = """UPDATE orders AS o
SET status = 'confirmed', updated_at = c.at, version = o.version + 1, last_seq = c.seq
FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS c(id, at, seq)
WHERE o.order_id = c.id"""
STOCK = """INSERT INTO stock_items AS s (sku, on_hand, reserved, version, updated_at, last_seq)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::timestamptz[],
    $6::bigint[])
ON CONFLICT (sku) DO UPDATE SET on_hand = s.on_hand + EXCLUDED.on_hand,
    reserved = s.reserved + EXCLUDED.reserved, version = s.version + EXCLUDED.version,
    updated_at = EXCLUDED.updated_at, last_seq = EXCLUDED.last_seq"""
CHECKPOINT = """INSERT INTO projection_checkpoints (name, stream, position) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()"""

# (on hand, reserved) each unit of a stock event's quantity moves
MOVES = {
    "StockReceived": (1, 0),
    "StockReserved": (0, 1),
    "StockReservationReleased": (0, -1),
    "StockShipped": (-1, -1),
}


def stream_seq(reply: str) -> int:
    """The stream sequence in a JetStream ack subject
    (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`)."""
    return int(reply.split(".", 7)[5])


def stored(reply: str) -> tuple[int, datetime]:
    """The stream sequence and the time the stream stored the message (its ack subject)."""
    tokens = reply.split(".")
    return int(tokens[5]), datetime.fromtimestamp(int(tokens[7]) / 1e9, UTC)


class Batch(Protocol):
    headers: bool  # type and time from the headers (else from the body, the stored time)
    size: int  # events added
    last_seq: int

    def add(self, msg: Msg) -> None: ...

    async def write(self, conn: asyncpg.Connection) -> None:
        """The batch's statements (inside the caller's transaction)."""


@dataclass(slots=True)
class OrdersBatch:
    headers: bool = True
    size: int = 0
    last_seq: int = 0
    placed: tuple[list[Any], ...] = field(default_factory=lambda: tuple([] for _ in range(7)))
    confirmed: tuple[list[Any], ...] = field(default_factory=lambda: ([], [], []))

    def add(self, msg: Msg) -> None:
        body = _decode.decode(msg.data)
        if self.headers:
            headers = msg.headers or {}
            kind, seq = headers.get(EVENT_TYPE), stream_seq(msg.reply)
            at = datetime.fromisoformat(headers[OCCURRED_AT])
        else:
            kind = "OrderPlaced" if "customer_id" in body else "OrderConfirmed"
            seq, at = stored(msg.reply)
        order_id = msg.subject.rpartition(".")[2]
        if kind == "OrderPlaced":
            values = (
                order_id,
                body["customer_id"],
                body["currency"],
                Decimal(body["total"]),
                at,
                seq,
                _encode.encode(body["lines"]).decode(),
            )
            for column, value in zip(self.placed, values, strict=True):
                column.append(value)
        elif kind == "OrderConfirmed":
            for column, value in zip(self.confirmed, (order_id, at, seq), strict=True):
                column.append(value)
        else:
            raise ValueError(f"the floor folds OrderPlaced and OrderConfirmed, not {kind}")
        self.size += 1
        self.last_seq = seq

    async def write(self, conn: asyncpg.Connection) -> None:
        if self.placed[0]:
            await conn.execute(PLACED, *self.placed)
        if self.confirmed[0]:
            await conn.execute(CONFIRMED, *self.confirmed)


@dataclass(slots=True)
class StockBatch:
    headers: bool = True
    size: int = 0
    last_seq: int = 0
    # sku -> [on hand, reserved, events, occurred at (text, or the stored time), last seq]
    rows: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, msg: Msg) -> None:
        body = _decode.decode(msg.data)
        at: str | datetime
        if self.headers:
            headers = msg.headers or {}
            kind, seq, at = headers.get(EVENT_TYPE), stream_seq(msg.reply), headers[OCCURRED_AT]
        else:
            kind = "StockReserved" if "order_id" in body else "StockReceived"
            seq, at = stored(msg.reply)
        move = MOVES.get(kind or "")
        if move is None:
            raise ValueError(f"the floor folds the stock moves, not {kind}")
        quantity = body["quantity"]
        sku = msg.subject.rpartition(".")[2]
        row = self.rows.get(sku)
        if row is None:
            self.rows[sku] = [move[0] * quantity, move[1] * quantity, 1, at, seq]
        else:
            row[0] += move[0] * quantity
            row[1] += move[1] * quantity
            row[2] += 1
            row[3], row[4] = at, seq
        self.size += 1
        self.last_seq = seq

    async def write(self, conn: asyncpg.Connection) -> None:
        rows = self.rows.values()
        times = [row[3] for row in rows]
        await conn.execute(
            STOCK,
            list(self.rows),
            [row[0] for row in rows],
            [row[1] for row in rows],
            [row[2] for row in rows],
            [datetime.fromisoformat(at) for at in times] if self.headers else times,
            [row[4] for row in rows],
        )


BATCHES: dict[str, type[OrdersBatch] | type[StockBatch]] = {
    "orders": OrdersBatch,
    "stock": StockBatch,
}
TABLES = {"orders": "orders", "stock": "stock_items"}
