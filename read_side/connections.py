"""The query routes' connections: up to `size` asyncpg connections, made on demand, each
with its statements prepared once.

Why not asyncpg's `Pool`: measured on this machine (16 concurrent readers, one primary-key
statement each, `reset` turned off), a `Pool.fetchval` cost 115-127 µs of the API's CPU
against 25-48 µs for `Connection.fetchval` and 18-42 µs for a prepared statement's
`fetchval` (docs/benchmarks.md, issue 13): its proxies, holder futures, inactivity timers
and queue cost more than the statement. These connections never change their session
(no SET, LISTEN, transaction or lock), so handing one back needs no reset, and a connection
that failed in any way other than a refused statement is closed rather than reused.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

Connect = Callable[[], Awaitable[Any]]  # a new asyncpg connection


class Connection:
    """One connection and the statements prepared on it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._statements: dict[str, Any] = {}

    async def statement(self, sql: str) -> Any:
        """`sql` prepared on this connection (once: asyncpg's PreparedStatement)."""
        prepared = self._statements.get(sql)
        if prepared is None:
            prepared = self._statements[sql] = await self.conn.prepare(sql)
        return prepared

    @property
    def usable(self) -> bool:
        return not self.conn.is_closed()


class Connections:
    def __init__(self, connect: Connect, *, size: int) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[Connection] = []
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._open = 0  # made or being made, not yet closed
        self._closed = False

    async def acquire(self) -> Connection:
        while True:
            while self._idle:
                held = self._idle.pop()  # the most recently used: warm, and its statements too
                if held.usable:
                    return held
                self._open -= 1
            if self._closed:
                raise asyncpg.InterfaceError("the query connections are closed")
            if self._open < self._size:
                self._open += 1
                try:
                    return Connection(await self._connect())
                except BaseException:
                    self._gone()
                    raise
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter
            except BaseException:  # cancelled (a timeout): pass on what it was handed
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    given = waiter.result()
                    if given is not None:
                        self.release(given)
                    else:
                        self._open += 1  # the room it was offered goes to the next one
                        self._gone()
                raise
            if handed is not None:
                return handed
            # None: a connection was closed, so there is room to make one

    def release(self, held: Connection) -> None:
        """Back for the next request (to a waiter first)."""
        if not held.usable:
            self.discard(held)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(held)
                return
        self._idle.append(held)

    def discard(self, held: Connection) -> None:
        """Close a connection that failed (its state is unknown)."""
        held.conn.terminate()
        self._gone()

    def _gone(self) -> None:
        self._open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # room for one more: it makes it
                return

    def drop_idle(self) -> None:
        """Close every idle connection (one was found dead: its siblings probably are)."""
        while self._idle:
            self.discard(self._idle.pop())

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(held.conn.close() for held in idle), return_exceptions=True)
        for held in idle:
            held.conn.terminate()
        self._open -= len(idle)
