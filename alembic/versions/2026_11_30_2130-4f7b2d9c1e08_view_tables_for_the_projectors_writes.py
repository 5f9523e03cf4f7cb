"""view tables for the projectors' writes: order_lines without its foreign key to orders,
stock_items with room on each page for its rows' updates

The projector inserts an order's lines in the statement that inserts the order, and
nothing deletes orders (a replay swaps whole tables), so the key guarded nothing that the
projector does not; its check cost PostgreSQL an index lookup and a row lock in `orders`
per line inserted. Every stock batch updates its SKUs' rows in place: fillfactor 50 keeps
those updates HOT, without a new index entry (docs/benchmarks.md, issue 14, session 7);
the pages written from now on get the room.

Revision ID: 4f7b2d9c1e08
Revises: 8c4d2e6f1a57
Create Date: 2026-11-30 21:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "4f7b2d9c1e08"
down_revision: str | None = "8c4d2e6f1a57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_order_lines_order_id_orders"


def upgrade() -> None:
    op.drop_constraint(FOREIGN_KEY, "order_lines", type_="foreignkey")
    op.execute("ALTER TABLE stock_items SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE stock_items RESET (fillfactor)")
    op.create_foreign_key(
        FOREIGN_KEY, "order_lines", "orders", ["order_id"], ["order_id"], ondelete="CASCADE"
    )
