"""The read models' connections, and the one place their failures are translated.

A GET costs one round trip and one statement: the query routes have connections of their
own (`connections.py`, the read-only login's URL), run outside any transaction, each
statement prepared once per connection. Nothing else goes to the server: no pre-ping on
checkout (a dead connection is noticed by the statement itself, which is retried once on a
new connection) and no reset on release.

Every call is bounded by the query timeout, and every failure of the server, the driver or
the connections becomes `ViewsUnavailable` here (HTTP 503 within the timeout, never a 500).
Only this module and `connections.py` know asyncpg; the routes hand it SQL from
`queries.py`.
"""

import asyncio
from typing import Any

import asyncpg

from read_side.connections import Connection, Connections
from read_side.errors import ViewsUnavailable

LIBRARY_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)
# the connection was dead before the statement reached the server, or the statement was
# prepared against tables since replaced: worth one more try, on a new connection
RETRY_ONCE = (
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError among them
    asyncpg.AdminShutdownError,  # the server restarted since the connection was made
    asyncpg.InvalidCachedStatementError,
    # a connection whose server sent FATAL (terminated, shutting down) before asyncpg saw
    # it close: "cannot switch to state ...; another operation is in progress"
    asyncpg.InternalClientError,
    ConnectionResetError,
    BrokenPipeError,
)
# a statement the server refused: the connection itself is fine
REFUSED = asyncpg.PostgresError


class ViewReader:
    def __init__(self, connections: Connections, *, timeout: float) -> None:
        self._connections = connections
        self.timeout = timeout

    @classmethod
    def open(cls, dsn: str, *, size: int, timeout: float) -> "ViewReader":
        """Connects on demand (the API starts while PostgreSQL is down)."""

        async def connect() -> Any:
            return await asyncpg.connect(dsn, timeout=timeout, statement_cache_size=0)

        return cls(Connections(connect, size=size), timeout=timeout)

    async def close(self) -> None:
        await self._connections.close()

    async def _once(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        connections = self._connections
        held: Connection = await connections.acquire()
        try:
            result = await getattr(await held.statement(sql), method)(*args)
        except REFUSED as error:  # the server refused the statement
            if isinstance(error, RETRY_ONCE):
                connections.discard(held)
            else:
                connections.release(held)  # the connection itself is fine
            raise
        except BaseException:
            connections.discard(held)  # cancelled mid-statement, or the socket failed
            raise
        connections.release(held)
        return result

    async def _run(self, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._once(method, sql, args)
                except RETRY_ONCE:
                    self._connections.drop_idle()  # its siblings probably died with it
                    return await self._once(method, sql, args)
        except LIBRARY_ERRORS as error:
            raise ViewsUnavailable.because(error) from error

    async def value(self, sql: str, *args: Any) -> Any:
        """The first column of the first row (None for no row)."""
        return await self._run("fetchval", sql, args)

    async def row(self, sql: str, *args: Any) -> Any:
        """The first row (an asyncpg Record), or None."""
        return await self._run("fetchrow", sql, args)

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await self._run("fetch", sql, args)  # type: ignore[no-any-return]

    async def ping(self) -> None:
        """One `SELECT 1` (the readiness check)."""
        await self.value("SELECT 1")
