"""The query routes' SQL: SELECT only, keyset pagination, and each view row rendered as
its JSON answer by PostgreSQL (`json_build_object`), so that a GET passes the server's text
through as the response body: one encode, no intermediate objects, no per-column decoding
of uuids, numerics and timestamps in Python. Money is a decimal string (`12.50`), times are
RFC 3339 UTC with microseconds (`events.envelope.format_timestamp`'s form).

Each statement has a variant `checked()` that also reads a checkpoint row in the same
statement, hence the same snapshot: read-your-writes knows from one round trip both
whether the view has applied a position and what the row was at that moment.

An order's lines are a JSONB column of its row, as the OrderPlaced body held them (money as
two-place decimal strings).
"""

from collections.abc import Sequence
from typing import Any

from read_side.cursors import order_cursor, stock_cursor
from read_side.order_statuses import ORDER_STATUSES

Row = Any  # an asyncpg Record (asyncpg ships no type information)

UTC_TIME = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
ORDER_JSON = f"""json_build_object(
    'order_id', o.order_id, 'customer_id', o.customer_id, 'status', o.status,
    'currency', o.currency,
    'lines', o.lines,
    'total', o.total::text, 'reason', o.reason,
    'created_at', {UTC_TIME.format("o.created_at")},
    'updated_at', {UTC_TIME.format("o.updated_at")},
    'version', o.version)::text"""
STOCK_JSON = """json_build_object(
    'sku', s.sku, 'on_hand', s.on_hand, 'reserved', s.reserved,
    'available', s.on_hand - s.reserved, 'version', s.version)::text"""

_ORDER = f"SELECT {ORDER_JSON} AS body FROM orders o WHERE o.order_id = $1"
_STOCK = f"SELECT {STOCK_JSON} AS body FROM stock_items s WHERE s.sku = $1"
CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = $1"
# with the completeness audit: applied + dead + ignored add up to the position (since the
# counters began, `counted_from`); `complete` false: an event was skipped
CHECKPOINTS = """SELECT name, stream, position, state, applied, dead, ignored,
    applied + dead + ignored = position - counted_from AS complete
FROM projection_checkpoints"""
PAUSED_VIEWS = "SELECT name FROM projection_pauses"
# each view's latest replay asked for through the admin API
LATEST_REPLAYS = """SELECT DISTINCT ON (projection) projection, id, state, done, total
FROM replay_requests ORDER BY projection, requested_at DESC"""


def checked(sql: str, slot: int, order: str = "") -> str:
    """`sql` with the position of the checkpoint named by parameter `$slot` as the first
    column, in one statement (one snapshot); one row with NULLs when `sql` finds none."""
    return (
        "SELECT cp.position, page.* FROM (SELECT COALESCE((SELECT position FROM"
        f" projection_checkpoints WHERE name = ${slot}), 0) AS position) cp"
        f" LEFT JOIN LATERAL ({sql}) page ON true{order}"
    )


# (the statement, its checked form with the checkpoint's name as $2)
ORDER_BY_ID = (_ORDER, checked(_ORDER, 2))
STOCK_BY_SKU = (_STOCK, checked(_STOCK, 2))


def list_orders_sql(*, status: bool, customer: bool, before: bool) -> str:
    """Newest first by placement time; the filters given, as `$2`, `$3`, ... (`$1` is
    the row limit); `before` is the (created_at, order_id) of the previous page's last."""
    if not (status or customer):
        return _newest_orders_sql(before=before)
    where, args = [], 1
    for column, given in (("o.status", status), ("o.customer_id", customer)):
        if given:
            args += 1
            where.append(f"{column} = ${args}")
    if before:
        where.append(f"(o.created_at, o.order_id) < (${args + 1}, ${args + 2})")
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return (
        f"SELECT {ORDER_JSON} AS body, o.created_at, o.order_id FROM orders o{condition}"
        " ORDER BY o.created_at DESC, o.order_id DESC LIMIT $1"
    )


def _newest_orders_sql(*, before: bool) -> str:
    """The unfiltered list: `orders` has no index on (created_at, order_id) alone (each
    index is written again by every status change, docs/benchmarks.md, issue 14, session
    10), so the page is merged from the newest keys of each status, a backward range of the
    status index each (a Merge Append of index-only scans), and its rows read by key."""
    keyset = " AND (o.created_at, o.order_id) < ($2, $3)" if before else ""
    ranges = " UNION ALL ".join(
        f"(SELECT o.created_at, o.order_id FROM orders o WHERE o.status = '{status}'{keyset}"
        " ORDER BY o.created_at DESC, o.order_id DESC LIMIT $1)"
        for status in ORDER_STATUSES
    )
    return (
        f"SELECT {ORDER_JSON} AS body, o.created_at, o.order_id"
        f" FROM (SELECT k.order_id FROM ({ranges}) k"
        " ORDER BY k.created_at DESC, k.order_id DESC LIMIT $1) newest"
        " JOIN orders o ON o.order_id = newest.order_id"
        " ORDER BY o.created_at DESC, o.order_id DESC LIMIT $1"
    )


def list_stock_sql(*, max_available: bool, after: bool) -> str:
    """By SKU; `$1` is the row limit, then `max_available` and the previous page's SKU."""
    where, args = [], 1
    if max_available:
        args += 1
        where.append(f"s.on_hand - s.reserved <= ${args}")
    if after:
        where.append(f"s.sku > ${args + 1}")
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return (
        f"SELECT {STOCK_JSON} AS body, s.sku FROM stock_items s{condition} ORDER BY s.sku LIMIT $1"
    )


ORDER_PAGE_ORDER = " ORDER BY page.created_at DESC, page.order_id DESC"
STOCK_PAGE_ORDER = " ORDER BY page.sku"


def order_page(rows: Sequence[Row], limit: int) -> bytes:
    """`{"items": [...], "next_cursor": ...}` from up to `limit + 1` rows of a list (a
    checked list's empty page is one row of NULLs)."""
    page = [row for row in rows if row["body"] is not None]
    cursor = None
    if len(page) > limit:
        last = page[limit - 1]
        cursor = order_cursor(last["created_at"], last["order_id"])
    return _page([row["body"] for row in page[:limit]], cursor)


def stock_page(rows: Sequence[Row], limit: int) -> bytes:
    page = [row for row in rows if row["body"] is not None]
    cursor = stock_cursor(page[limit - 1]["sku"]) if len(page) > limit else None
    return _page([row["body"] for row in page[:limit]], cursor)


def _page(bodies: list[str], cursor: str | None) -> bytes:
    # a cursor is URL-safe base64: no character that JSON would escape
    tail = f'"{cursor}"' if cursor is not None else "null"
    return f'{{"items":[{",".join(bodies)}],"next_cursor":{tail}}}'.encode()
