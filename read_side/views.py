"""Running the query functions on the read models' pool: each call bounded by the query
timeout, and every failure of the database, its driver or the pool translated here, where
the library is called, into `ViewsUnavailable` (HTTP 503 within the timeout, never 500).

Only this module knows the pool is SQLAlchemy's over asyncpg; the routes hand it query
functions and get rows back."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from read_side import queries
from read_side.errors import ViewsUnavailable

T = TypeVar("T")
LIBRARY_ERRORS = (
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


class ViewReader:
    def __init__(self, engine: AsyncEngine, *, timeout: float) -> None:
        self._engine = engine
        self.timeout = timeout

    @asynccontextmanager
    async def _bounded(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with asyncio.timeout(self.timeout), self._engine.connect() as conn:
                yield conn
        except LIBRARY_ERRORS as error:
            raise ViewsUnavailable.because(error) from error

    async def read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` on a pooled connection (SQLAlchemy Core)."""
        async with self._bounded() as conn:
            return await work(conn)

    async def read_direct(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """`work` on the pooled connection's asyncpg driver, outside a transaction."""
        async with self._bounded() as conn:
            raw = await conn.get_raw_connection()
            return await work(raw.driver_connection)

    async def checkpoint(self, projection: str) -> int:
        return await self.read(lambda conn: queries.checkpoint(conn, projection))
