"""The orders view: one row per order (status, totals, reason, its lines).

A batch is folded per order in memory first, over plain values (`Fact`s): one INSERT for
the orders placed in the batch (each with its lines, a JSONB column of its row), and one
UPDATE for the orders placed earlier. Each statement takes its rows as one array per
column (`unnest`), each array as ONE text (an array literal, `projections.array_literals`)
that PostgreSQL reads with the column type's input function: ids, money, times and an
order's lines are converted by PostgreSQL. Texts, not asyncpg's binary arrays: a
one-message batch writes its statements' texts into the message (`projections.deferred`),
and asyncpg's encoding of one array per column checked and encoded every element in
Python. The arrays replaced one JSON text unpacked by `json_to_recordset`, which
PostgreSQL parsed twice before each value's input function (validated as `json`, then
unpacked into a record per object): PostgreSQL's CPU per OrderPlaced -25 to -30 %
(docs/benchmarks.md, issue 14, session 12).
"""

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from events.subjects import ORDERS
from projections.array_literals import int_array, text_array
from projections.base import Connection, qualified
from projections.facts import Fact

if TYPE_CHECKING:
    from sqlalchemy import Table

ORDERS_TABLE = "orders"  # read_side.tables.orders

STATUS_OF = {
    "OrderConfirmed": "confirmed",
    "OrderRejected": "rejected",
    "OrderCancelled": "cancelled",
    "OrderShipped": "shipped",
}
_WITH_REASON = ("OrderRejected", "OrderCancelled")
_json = msgspec.json.Encoder()


class Row(msgspec.Struct):
    """What a batch does to one order's row, its fields named as the SQL's record columns;
    an order placed in this batch carries its OrderPlaced values (`created_at` set), an
    order placed earlier only the change (the rest None)."""

    order_id: str
    status: str
    reason: str | None
    updated_at: str
    last_seq: int
    count: int  # events of the order in the batch (never omitted: no default)
    created_at: str | None = None  # set: placed in this batch
    customer_id: str | None = None
    currency: str | None = None
    total: Any = None  # the body's JSON values, as written
    lines: list[dict[str, Any]] | None = None


def _status(fact: Fact) -> tuple[str, str | None]:
    status = STATUS_OF.get(fact.type)
    if status is None:
        raise TypeError(f"not an order status change: {fact.type}")
    return status, fact.data.get("reason", "") if fact.type in _WITH_REASON else None


def fold(facts: Sequence[Fact]) -> dict[str, Row]:
    """Order id -> what the batch does to that order's row."""
    rows: dict[str, Row] = {}
    for fact in facts:
        moment = fact.occurred_at
        if fact.type == "OrderPlaced":
            body = fact.data
            rows[fact.key] = Row(
                fact.key,
                "pending",
                None,
                moment,
                fact.seq,
                1,
                moment,
                body["customer_id"],
                body["currency"],
                body["total"],
                body["lines"],
            )
            continue
        status, reason = _status(fact)
        row = rows.get(fact.key)
        if row is None:
            rows[fact.key] = Row(fact.key, status, reason, moment, fact.seq, 1)
        else:
            row.status, row.reason, row.updated_at = status, reason, moment
            row.last_seq, row.count = fact.seq, row.count + 1
    return rows


# the columns of the rows each statement unnests, with their types, in parameter order
_PLACED = (
    ("order_id", "uuid"),
    ("customer_id", "text"),
    ("status", "text"),
    ("currency", "text"),
    ("total", "numeric"),
    ("reason", "text"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("count", "int"),
    ("last_seq", "bigint"),
)
_CHANGED = (
    ("order_id", "uuid"),
    ("status", "text"),
    ("reason", "text"),
    ("updated_at", "timestamptz"),
    ("count", "int"),
    ("last_seq", "bigint"),
)


def _unnest(columns: tuple[tuple[str, str], ...], alias: str, ordinality: str = "") -> str:
    """`unnest($1::text::uuid[], ...) AS alias(order_id, ...)`: one array a column, each a
    text parameter read as the array (asyncpg would take an array parameter as a list) (and,
    given `ordinality`, a last column of that name numbering the rows from 1)."""
    arrays = ", ".join(f"${n}::text::{kind}[]" for n, (_, kind) in enumerate(columns, 1))
    names = [name for name, _ in columns]
    if ordinality:
        return f"unnest({arrays}) WITH ORDINALITY AS {alias}({', '.join([*names, ordinality])})"
    return f"unnest({arrays}) AS {alias}({', '.join(names)})"


def _arrays(rows: list[Row], columns: tuple[tuple[str, str], ...]) -> list[str]:
    """Each column of `rows` as an array literal, in `columns`' order."""
    arrays = []
    for name, kind in columns:
        values = list(map(attrgetter(name), rows))
        arrays.append(int_array(values) if kind in ("int", "bigint") else text_array(values))
    return arrays


class OrdersProjection:
    name: str = "orders"
    stream: str = ORDERS

    @property
    def tables(self) -> "tuple[Table, ...]":
        # imported when asked (a replay, the audit): SQLAlchemy is not a projector's start-up
        from read_side.tables import orders

        return (orders,)

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        rows = fold(facts)
        new = [row for row in rows.values() if row.created_at is not None]
        changed = [row for row in rows.values() if row.created_at is None]
        if new:
            await self._insert(conn, schema, new)
        if changed:
            # The batch's rows are counted for the planner by two LIMITs of their own
            # number (a no-op on the rows): a set-returning function of a parameter counts
            # as 10 or 100 rows, or as many as a custom plan's array holds, and the plan
            # PostgreSQL keeps after a prepared statement's first executions was made while
            # the table was small (a hash join over a scan of the whole table, ever after:
            # found by s12, session 10). A LIMIT not known when the kept plan is made
            # counts as a tenth of its input; two make it a few, so the kept plan looks
            # each order up by its key. The number travels as a text (a one-message batch
            # writes texts in).
            limit = f"${len(_CHANGED) + 1}::text::bigint"
            await conn.execute(
                f"""UPDATE {qualified(schema, ORDERS_TABLE)} AS o
                SET status = c.status, reason = c.reason, updated_at = c.updated_at,
                    version = o.version + c.count, last_seq = c.last_seq
                FROM (SELECT * FROM (SELECT * FROM {_unnest(_CHANGED, "c")}
                    LIMIT {limit}) AS c LIMIT {limit}) AS c
                WHERE o.order_id = c.order_id""",
                *_arrays(changed, _CHANGED),
                str(len(changed)),
            )

    async def _insert(self, conn: Connection, schema: str, new: list[Row]) -> None:
        """The new orders with their lines (the body's, in its order, as one JSONB value of
        the order's row) in one statement. An OrderPlaced for an order that exists (a
        foreign publisher's copy) changes neither the row nor its lines, as before.

        The orders' lines travel as ONE JSON array (the n-th order's lines its n-th
        element, taken by `->`): a JSON text in an array literal would have each of its
        quotes escaped, in Python, and read back."""
        lines = f"${len(_PLACED) + 1}::jsonb"
        await conn.execute(
            f"""INSERT INTO {qualified(schema, ORDERS_TABLE)} (order_id, customer_id, status,
                currency, total, reason, created_at, updated_at, version, last_seq, lines)
            SELECT order_id, customer_id, status, currency, total, reason, created_at,
                updated_at, count, last_seq, {lines} -> (n.at - 1)::int
            FROM {_unnest(_PLACED, "n", ordinality="at")}
            ON CONFLICT (order_id) DO NOTHING""",
            *_arrays(new, _PLACED),
            _json.encode([row.lines for row in new]).decode(),
        )
