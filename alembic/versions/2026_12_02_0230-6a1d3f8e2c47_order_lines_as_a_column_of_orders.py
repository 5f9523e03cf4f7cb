"""an order's lines as a JSONB column of its `orders` row; `order_lines` dropped

An OrderPlaced wrote the order's row and its four index entries, and then a row and a
primary-key entry per line in `order_lines`: with the lines in the order's own row, the
projector's insert writes one tuple, and PostgreSQL's CPU per OrderPlaced fell 21.0-22.2 ->
15.2-15.5 µs (a status change copies the wider row: 18.8-19.8 -> 20.2-20.7 µs;
docs/benchmarks.md, issue 14, session 11). The lines are kept as the OrderPlaced body
holds them, `[{"sku", "quantity", "unit_price"}]` in the order placed, money as the
two-place decimal string the view's `numeric(15, 2)` column rendered.

Revision ID: 6a1d3f8e2c47
Revises: b3e7c1d94a26
Create Date: 2026-12-02 02:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "6a1d3f8e2c47"
down_revision: str | None = "b3e7c1d94a26"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = {"tally_query": "SELECT", "tally_projector": "SELECT, INSERT, UPDATE, DELETE"}


def upgrade() -> None:
    op.add_column("orders", sa.Column("lines", JSONB, nullable=True))
    op.execute(
        """UPDATE orders o SET lines = COALESCE((
            SELECT jsonb_agg(jsonb_build_object('sku', l.sku, 'quantity', l.quantity,
                'unit_price', l.unit_price::text) ORDER BY l.line_no)
            FROM order_lines l WHERE l.order_id = o.order_id), '[]'::jsonb)"""
    )
    op.alter_column("orders", "lines", nullable=False)
    op.drop_table("order_lines")


def downgrade() -> None:
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line_no", name=op.f("pk_order_lines")),
    )
    for role, privileges in ROLES.items():
        op.execute(f"GRANT {privileges} ON order_lines TO {role}")
    op.execute(
        """INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price)
        SELECT o.order_id, l.line_no, l.sku, l.quantity, l.unit_price
        FROM orders o, ROWS FROM (jsonb_to_recordset(o.lines)
            AS (sku text, quantity int, unit_price numeric)) WITH ORDINALITY
            AS l(sku, quantity, unit_price, line_no)"""
    )
    op.drop_column("orders", "lines")
