"""orders without an index on (created_at, order_id) alone

Every status change of an order writes a new entry in each index of `orders` (the status is
indexed, so the update is never HOT); the unfiltered order list is now merged from the
status index's range of each status (read_side.queries), so this index only cost
PostgreSQL an insert per order placed and per status change (docs/benchmarks.md, issue 14,
session 10).

Revision ID: b3e7c1d94a26
Revises: 4f7b2d9c1e08
Create Date: 2026-12-01 06:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b3e7c1d94a26"
down_revision: str | None = "4f7b2d9c1e08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_orders_created", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_created", "orders", ["created_at", "order_id"], unique=False)
