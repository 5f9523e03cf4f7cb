"""database roles: tally_query (read-only, for the query API) and tally_projector (writes
the views, for the projectors)

Both are NOLOGIN group roles: give a login role their rights with
`CREATE ROLE tally_api LOGIN PASSWORD '...' IN ROLE tally_query;` (README, "Securing Tally").
Roles are cluster-wide, so they are created when missing and never dropped here; the
migrating user needs CREATEROLE unless a superuser created them beforehand. Tables the
migrating user creates later (migrations, `tally replay`'s shadow tables) get the same
grants through default privileges.

Revision ID: 3b8f0c2d9e41
Revises: 7dcca5fcbd1d
Create Date: 2026-11-22 04:20:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3b8f0c2d9e41"
down_revision: str | None = "7dcca5fcbd1d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("orders", "order_lines", "stock_items", "projection_checkpoints")
ROLES = {"tally_query": "SELECT", "tally_projector": "SELECT, INSERT, UPDATE, DELETE"}


def _create_role(role: str) -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            BEGIN
              CREATE ROLE {role} NOLOGIN;
            EXCEPTION
              WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
              WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'cannot create role {role}: the migrating user needs '
                  'CREATEROLE, or a superuser runs: CREATE ROLE {role} NOLOGIN;';
            END;
          END IF;
        END $$
        """
    )


def upgrade() -> None:
    for role, privileges in ROLES.items():
        _create_role(role)
        op.execute(
            f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', "
            "current_database()); END $$"
        )
        op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        op.execute(f"GRANT {privileges} ON {', '.join(TABLES)} TO {role}")
        op.execute(f"ALTER DEFAULT PRIVILEGES GRANT {privileges} ON TABLES TO {role}")


def downgrade() -> None:
    for role, privileges in ROLES.items():
        op.execute(f"ALTER DEFAULT PRIVILEGES REVOKE {privileges} ON TABLES FROM {role}")
        op.execute(f"REVOKE ALL ON {', '.join(TABLES)} FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {role}")
        op.execute(
            f"DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {role}', "
            "current_database()); END $$"
        )
