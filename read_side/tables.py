"""The read models as SQLAlchemy Core tables: the one metadata that Alembic migrates.

Every view row records `version` (how many of its aggregate's events were applied) and
`last_seq` (the stream sequence of the last one), so a view can be checked against its stream.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from read_side.order_statuses import ORDER_STATUSES

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

MONEY = Numeric(15, 2)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Uuid(as_uuid=True), primary_key=True),
    Column("customer_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", MONEY, nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    # the order's lines, in the order placed: [{"sku", "quantity", "unit_price"}] as the
    # OrderPlaced body holds them (money as "12.50"); a column of the order's row, not rows
    # of a table of their own: an OrderPlaced writes one heap tuple and the order's index
    # entries, not also a tuple and a key entry per line (PostgreSQL's CPU per OrderPlaced
    # -28 %, docs/benchmarks.md, issue 14, session 11)
    Column("lines", JSONB, nullable=False),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{status}'" for status in ORDER_STATUSES) + ")",
        name="status",
    ),
    # GET /orders: newest first (a backward scan), optionally by status or customer,
    # keyset on (created_at, order_id); without a filter, merged from the status index's
    # range of each status (read_side.queries): an index of its own on (created_at,
    # order_id) would be written again by every status change (not HOT: the status is
    # indexed), ~10 % of PostgreSQL's work per orders event (docs/benchmarks.md, issue 14)
    Index("ix_orders_status_created", "status", "created_at", "order_id"),
    Index("ix_orders_customer_created", "customer_id", "created_at", "order_id"),
)

stock_items = Table(
    "stock_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    # every batch updates its SKUs' rows in place: room on each page keeps those updates
    # HOT (no new index entry), ~10 % of PostgreSQL's CPU per stock event
    postgresql_with={"fillfactor": 50},
)

projection_checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("stream", String(64), nullable=False),
    Column("position", BigInteger, nullable=False, server_default=text("0")),
    Column("state", String(16), nullable=False, server_default=text("'live'")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # the completeness audit: applied + dead + ignored == position - counted_from at every
    # commit (ignored: another partition's events passed over)
    Column("applied", BigInteger, nullable=False, server_default=text("0")),
    Column("dead", BigInteger, nullable=False, server_default=text("0")),
    Column("ignored", BigInteger, nullable=False, server_default=text("0")),
    Column("counted_from", BigInteger, nullable=False, server_default=text("0")),
)

parked_events = Table(
    "parked_events",
    metadata,
    # sequenced dead letters (projections/parking.py): per view and aggregate, the
    # dead-lettered event and the later events parked behind it, in order; and the
    # events an operator dropped (a replay skips them too)
    Column("view", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("aggregate", Text, nullable=False),
    Column("stream", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("state", String(8), nullable=False),  # dead (the head), parked, dropped
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("state IN ('dead', 'parked', 'dropped')", name="state"),
    Index("ix_parked_events_view_aggregate_seq", "view", "aggregate", "seq"),
)

# A view whose projectors stand still (the admin API's pause, `tally pause`): a row while
# paused. Every projector of the view (each partition's) holds its lock and its checkpoint
# and pulls nothing until the row is gone.
projection_pauses = Table(
    "projection_pauses",
    metadata,
    Column("name", String(64), primary_key=True),  # the view, not a partition's row
    Column("paused_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

REPLAY_STATES = ("building", "catching-up", "comparing", "swapped", "failed", "cancelled")
REPLAY_RUNNING = REPLAY_STATES[:3]

# A replay asked for through the admin API, run by a projections worker (`tally project`):
# its state and progress. At most one running per view (the partial unique index).
replay_requests = Table(
    "replay_requests",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("projection", String(64), nullable=False),
    Column("state", String(16), nullable=False, server_default=text("'building'")),
    Column("done", BigInteger, nullable=False, server_default=text("0")),
    Column("total", BigInteger, nullable=False, server_default=text("0")),
    Column("rate", Float, nullable=False, server_default=text("0")),  # events/s
    Column("cancel", Boolean, nullable=False, server_default=text("false")),
    Column("error", Text, nullable=True),
    Column("comparison", Text, nullable=True),  # what the swap's comparison found
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("started_at", DateTime(timezone=True), nullable=True),  # taken by a worker
    Column("finished_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{state}'" for state in REPLAY_STATES) + ")", name="state"
    ),
    Index(
        "ix_replay_requests_running",
        "projection",
        unique=True,
        postgresql_where=text(
            "state IN (" + ", ".join(f"'{state}'" for state in REPLAY_RUNNING) + ")"
        ),
    ),
    Index("ix_replay_requests_projection_requested", "projection", "requested_at"),
)

VIEW_TABLES: dict[str, tuple[Table, ...]] = {
    "orders": (orders,),
    "stock": (stock_items,),
}
"""The tables each projection owns, parents first: what a replay rebuilds and swaps."""
