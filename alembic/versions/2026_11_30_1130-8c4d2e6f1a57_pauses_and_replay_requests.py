"""pauses and replay requests: `projection_pauses` (a row per paused view) and
`replay_requests` (replays asked for through the admin API, their state and progress, at
most one running per view)

The database roles get their rights on both through the default privileges of
3b8f0c2d9e41 (the query role reads them, the projector role may read and write them).

Revision ID: 8c4d2e6f1a57
Revises: 8c2f4a6e1b97
Create Date: 2026-11-30 11:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4d2e6f1a57"
down_revision: str | None = "8c2f4a6e1b97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("building", "catching-up", "comparing", "swapped", "failed", "cancelled")
RUNNING = STATES[:3]


def _listed(states: Sequence[str]) -> str:
    return "state IN (" + ", ".join(f"'{state}'" for state in states) + ")"


def upgrade() -> None:
    op.create_table(
        "projection_pauses",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "paused_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projection_pauses")),
    )
    op.create_table(
        "replay_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("projection", sa.String(length=64), nullable=False),
        sa.Column(
            "state", sa.String(length=16), server_default=sa.text("'building'"), nullable=False
        ),
        sa.Column("done", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("total", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("rate", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("cancel", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("comparison", sa.Text(), nullable=True),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_listed(STATES), name=op.f("ck_replay_requests_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_requests")),
    )
    op.create_index(
        "ix_replay_requests_running",
        "replay_requests",
        ["projection"],
        unique=True,
        postgresql_where=sa.text(_listed(RUNNING)),
    )
    op.create_index(
        "ix_replay_requests_projection_requested",
        "replay_requests",
        ["projection", "requested_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_replay_requests_projection_requested", table_name="replay_requests")
    op.drop_index("ix_replay_requests_running", table_name="replay_requests")
    op.drop_table("replay_requests")
    op.drop_table("projection_pauses")
