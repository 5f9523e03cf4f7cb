"""The read models' database: Alembic upgrades (found wherever Tally is installed or run
from), and the connection pool of the query side."""

import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tally.database_url import sqlalchemy_url

log = logging.getLogger("tally.database")


def find_alembic_ini() -> Path:
    """alembic.ini beside the source tree (checkout, editable install), else in the working
    directory (the Docker image copies it and alembic/ into /app)."""
    candidates = [Path(__file__).resolve().parents[2], Path.cwd(), Path("/app")]
    for directory in candidates:
        ini = directory / "alembic.ini"
        if ini.is_file() and (directory / "alembic" / "env.py").is_file():
            return ini
    searched = ", ".join(str(directory) for directory in candidates)
    raise FileNotFoundError(f"alembic.ini with alembic/ not found (looked in {searched})")


def alembic_config(database_url: str) -> Config:
    config = Config(str(find_alembic_ini()))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def create_engine(database_url: str, *, pool_size: int, timeout: float) -> AsyncEngine:
    """An asyncpg pool whose every connect is bounded by `timeout` seconds."""
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout,
        pool_pre_ping=True,
        connect_args={"timeout": timeout, "command_timeout": 30},
    )


async def run_alembic(database_url: str, revision: str = "head", *, down: bool = False) -> None:
    """`alembic upgrade <revision>` (or downgrade) from inside a running event loop."""
    config = alembic_config(database_url)

    def migrate(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    engine = create_async_engine(sqlalchemy_url(database_url), connect_args={"timeout": 10})
    try:
        async with engine.begin() as connection:
            await connection.run_sync(migrate)
    finally:
        await engine.dispose()


async def upgrade_database(database_url: str, retries: float = 30.0) -> None:
    """Upgrade to head, waiting up to `retries` seconds for the server to accept us."""
    deadline = asyncio.get_running_loop().time() + retries
    while True:
        try:
            await run_alembic(database_url)
            log.info("database schema at head")
            return
        except (OSError, TimeoutError) as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("database not reachable, retrying: %s", error)
            await asyncio.sleep(1.0)
