"""The database roles made by the migrations: the query API's role can only read, the
projectors' role can write the views but not change the schema."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from events.stock import StockReceived
from support.db_roles import login_role
from support.read_side import connect, position, publish
from support.roles import Role, role_env
from tally.database_url import asyncpg_dsn
from tally.roles.database import run_alembic
from tally.roles.migrate import run_migrate
from tally.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def migrated(database_url: str) -> str:
    await run_alembic(database_url)
    return database_url


async def login_in(url: str, group: str) -> AsyncIterator[asyncpg.Connection]:
    """A login role in `group` (made as the README says), connected."""
    async with login_role(url, group) as login_url:
        conn = await asyncpg.connect(asyncpg_dsn(login_url))
        try:
            yield conn
        finally:
            await conn.close()


@pytest.fixture
async def reader(migrated: str) -> AsyncIterator[asyncpg.Connection]:
    async for conn in login_in(migrated, "tally_query"):
        yield conn


@pytest.fixture
async def writer(migrated: str) -> AsyncIterator[asyncpg.Connection]:
    async for conn in login_in(migrated, "tally_projector"):
        yield conn


INSERT_STOCK = (
    "INSERT INTO stock_items (sku, on_hand, reserved, version, updated_at, last_seq)"
    " VALUES ('A', 1, 0, 1, now(), 1)"
)


async def test_the_query_role_reads_and_cannot_write(reader: asyncpg.Connection) -> None:
    for table in ("orders", "stock_items", "projection_checkpoints"):
        assert await reader.fetchval(f"SELECT count(*) FROM {table}") == 0
    for table in ("projection_pauses", "replay_requests"):  # GET /projections shows them
        assert await reader.fetchval(f"SELECT count(*) FROM {table}") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("INSERT INTO projection_pauses (name) VALUES ('orders')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute(INSERT_STOCK)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("UPDATE projection_checkpoints SET position = 9")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("DELETE FROM orders")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("CREATE TABLE sneaky (x int)")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("SELECT * FROM alembic_version")
    await reader.execute("LISTEN tally_projections")  # read-your-writes still works


async def test_the_projector_role_writes_views_not_schema(writer: asyncpg.Connection) -> None:
    await writer.execute(INSERT_STOCK)
    assert await writer.fetchval("SELECT count(*) FROM projection_pauses") == 0  # pause checked
    await writer.execute("INSERT INTO projection_checkpoints (name, stream) VALUES ('s', 'STOCK')")
    async with writer.transaction():
        await writer.fetchval("SELECT position FROM projection_checkpoints FOR UPDATE")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await writer.execute("DROP TABLE stock_items")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await writer.execute("CREATE TABLE sneaky (x int)")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await writer.execute("TRUNCATE orders CASCADE")


async def test_tables_made_later_by_the_owner_get_the_grants(
    migrated: str, reader: asyncpg.Connection
) -> None:
    """As `tally replay` does: new tables in a shadow schema, moved into public."""
    owner = await asyncpg.connect(asyncpg_dsn(migrated))
    try:
        await owner.execute("CREATE SCHEMA shadow; CREATE TABLE shadow.fresh (x int)")
        await owner.execute("ALTER TABLE shadow.fresh SET SCHEMA public")
    finally:
        await owner.close()
    assert await reader.fetchval("SELECT count(*) FROM fresh") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("INSERT INTO fresh VALUES (1)")


async def test_migrations_run_twice_on_one_server(database_url: str, migrated: str) -> None:
    """The roles are cluster-wide: a second database migrates without tripping on them."""
    await run_alembic(migrated, "base", down=True)
    await run_alembic(migrated)


async def test_tally_project_runs_on_its_own_role_url_alone(
    migrated: str, nats_url: str, tmp_path: Path
) -> None:
    """As compose runs it: TALLY_PROJECTOR_DATABASE_URL, no DATABASE_URL (the owner's)."""
    await run_migrate(Settings(nats_url=nats_url))
    async with login_role(migrated, "tally_projector") as writer_url:
        env = role_env(nats_url, TALLY_PROJECTOR_DATABASE_URL=writer_url)
        projector = Role(["project", "stock"], env, tmp_path / "project.log").start()
        try:
            nc = await connect(nats_url)
            try:
                seq = await publish(nc, [("stock.S1", StockReceived(quantity=3))])
            finally:
                await nc.close()
            async with asyncio.timeout(30):
                while await position(asyncpg_dsn(migrated), "stock") < seq:
                    assert projector.alive, projector.tail()
                    await asyncio.sleep(0.1)
        finally:
            projector.stop()
        assert "Traceback" not in projector.tail(), projector.tail()
