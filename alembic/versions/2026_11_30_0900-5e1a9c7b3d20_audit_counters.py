"""completeness audit counters on projection_checkpoints: events applied, dead-lettered and
not for this row (another partition's), kept in the transaction of every batch, so that
applied + dead + ignored == position - counted_from holds at every commit

Rows that exist when this runs have applied events nobody counted: they count from their
position on (counted_from = position).

Revision ID: 5e1a9c7b3d20
Revises: 3b8f0c2d9e41
Create Date: 2026-11-30 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1a9c7b3d20"
down_revision: str | None = "3b8f0c2d9e41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("applied", "dead", "ignored", "counted_from")


def upgrade() -> None:
    for name in COUNTERS:
        op.add_column(
            "projection_checkpoints",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        )
    op.execute("UPDATE projection_checkpoints SET counted_from = position")


def downgrade() -> None:
    for name in reversed(COUNTERS):
        op.drop_column("projection_checkpoints", name)
