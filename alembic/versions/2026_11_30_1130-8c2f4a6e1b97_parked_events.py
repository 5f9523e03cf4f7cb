"""parked events: sequenced dead letters. Per view and aggregate, the dead-lettered event
(state `dead`, the head) and the later events of that aggregate parked behind it
(`parked`), in order, not applied, until a retry or a drop of the head releases them; and
the events an operator dropped (`dropped`), which a replay skips too
(projections/parking.py)

Revision ID: 8c2f4a6e1b97
Revises: 5e1a9c7b3d20
Create Date: 2026-11-30 11:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8c2f4a6e1b97"
down_revision: str | None = "5e1a9c7b3d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_events",
        sa.Column("view", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("aggregate", sa.Text(), nullable=False),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        sa.PrimaryKeyConstraint("view", "seq", name="pk_parked_events"),
        sa.CheckConstraint("state IN ('dead', 'parked', 'dropped')", name="ck_parked_events_state"),
    )
    op.create_index(
        "ix_parked_events_view_aggregate_seq", "parked_events", ["view", "aggregate", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_parked_events_view_aggregate_seq", table_name="parked_events")
    op.drop_table("parked_events")
