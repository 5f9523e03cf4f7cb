"""What every admin route answers when NATS or PostgreSQL does not: 503, never a 500; and
the owner's database connection an admin write is made on."""

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import nats.errors

from http_edge.problems import service_unavailable
from tally.database_connection import DatabaseUnavailable, connect_database

CONNECT_TIMEOUT = 3.0


@contextlib.asynccontextmanager
async def servers_answer() -> AsyncIterator[None]:
    """NATS or PostgreSQL down or slow: 503, never a 500."""
    try:
        yield
    except DatabaseUnavailable as error:
        raise service_unavailable("PostgreSQL unavailable", str(error)) from error
    except (
        nats.errors.Error,
        TimeoutError,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
    ) as error:
        detail = f"{type(error).__name__}: {error}"
        raise service_unavailable("A server did not answer", detail) from error


@contextlib.asynccontextmanager
async def owner_connection(database_url: str | None, why: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database's owner (DATABASE_URL) for one request; 503 saying
    `why` it is needed when there is none. What the request does with it answers as
    `servers_answer` says."""
    if database_url is None:
        raise service_unavailable("No database to write with", f"{why}: set DATABASE_URL")
    async with servers_answer():
        conn = await connect_database(database_url, timeout=CONNECT_TIMEOUT)
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
