"""The Alembic migrations: up, down, up again, and no drift from the table definitions."""

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from read_side.tables import metadata
from tally.database_url import sqlalchemy_url
from tally.roles.database import run_alembic

pytestmark = pytest.mark.integration


async def _inspect(database_url: str) -> tuple[set[str], list[Any]]:
    def look(connection: Connection) -> tuple[set[str], list[Any]]:
        tables = set(inspect(connection).get_table_names())
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return tables, compare_metadata(context, metadata)

    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_without_drift(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # `tally migrate` finds alembic.ini from anywhere
    await run_alembic(database_url)
    tables, _ = await _inspect(database_url)
    assert set(metadata.tables) <= tables

    await run_alembic(database_url, "base", down=True)
    tables, _ = await _inspect(database_url)
    assert tables == {"alembic_version"}

    await run_alembic(database_url)
    tables, drift = await _inspect(database_url)
    assert set(metadata.tables) <= tables
    assert drift == [], f"the models and the migrations disagree: {drift}"
