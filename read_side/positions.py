"""Read-your-writes: how far each projection has got, confirmed by its checkpoint row.

One LISTEN connection per API process; the projectors NOTIFY `name:stream:seq` in the
transaction that saves their checkpoint, so a notification arrives only after the commit.
A notification is only a wake-up hint: any database login may send one, so what a request
waits for is the checkpoint row, read again whenever a notification claims the position.
A request registers before its read (so no notification can slip by), never polls in a
loop, and reads once more when its time is up (in case the LISTEN connection was down).
A request that may wait for a hint first (`hint_first`: a row whose projector notifies
every position it saves) reads at once only when a hint already claimed its position or
the LISTEN connection is down; otherwise its one read follows the commit's notification
(a read before it would nearly always find the position not yet applied, and costs a
round trip and the database's CPU just while the projector applies the event).

Each waiter reads for itself: the query routes read the checkpoint and the view row in one
statement (`queries.checked`), so a read that confirms the position also holds the answer.
What a read returns is the only source of `known()`: a request whose position is already
known to be applied needs no checkpoint read at all. Positions are kept by checkpoint row
name (`orders` today; one per partition, `orders/2`, once views are partitioned).

What was learned is forgotten when the LISTEN connection drops: PostgreSQL may have
restarted, and the projectors commit without waiting for the WAL flush by default
(TALLY_PROJECTION_SYNCHRONOUS_COMMIT), so a crash may have taken their last commits and
moved a checkpoint back. Known positions, hints and the row cache go; the checkpoints are
read again once listening, and a read begun before the loss confirms nothing.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from read_side.row_cache import RowCache

log = logging.getLogger("tally.read_side.positions")
CHANNEL = "tally_projections"
Reread = Callable[[], Awaitable[int]]


class ProjectionPositions:
    def __init__(self, dsn: str, *, channel: str = CHANNEL, cache: RowCache | None = None) -> None:
        self._dsn = dsn
        self._channel = channel
        self.cache = cache if cache is not None else RowCache(0)  # dropped at each hint
        self._known: dict[str, int] = {}  # only ever from the checkpoint rows
        self._hinted: dict[str, int] = {}  # the highest position a notification claimed
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._epoch = 0  # the LISTEN connections lost so far
        self.listening = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="tally-listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def known(self, name: str) -> int:
        """The position of `name` last read from its checkpoint row."""
        return self._known.get(name, 0)

    def confirm(self, name: str, seq: int) -> None:
        """`seq` was read from the checkpoint row `name` (never from a notification)."""
        if seq > self._known.get(name, 0):
            self._known[name] = seq

    def _forget(self) -> None:
        """The LISTEN connection is lost: whatever was read of the checkpoints may be ahead
        of them now (a PostgreSQL restart that lost unflushed commits)."""
        self._epoch += 1
        self._known.clear()
        self._hinted.clear()
        self.cache.listening(False)

    async def _confirm_read(self, name: str, read: Reread) -> None:
        """`read()`'s position confirmed, unless the LISTEN connection was lost meanwhile."""
        epoch = self._epoch
        seq = await read()
        if epoch == self._epoch:
            self.confirm(name, seq)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        """A hint: wake the waiters it claims to satisfy; they read the checkpoint. The
        cached answers of the row it names are dropped."""
        name, _, seq = payload.rpartition(":")
        name = name.partition(":")[0]
        self.cache.changed(name)
        try:
            claimed = int(seq)
        except ValueError:
            return
        if claimed > self._hinted.get(name, 0):
            self._hinted[name] = claimed  # a reason to read, never a fact
        self._wake(name, claimed)

    def _wake(self, name: str, claimed: int) -> None:
        for target, future in self._waiters.get(name, []):
            if target <= claimed and not future.done():
                future.set_result(None)

    async def _supervise(self) -> None:
        delay = 0.2
        while True:
            lost = asyncio.Event()

            def on_lost(_: object, lost: asyncio.Event = lost) -> None:
                lost.set()

            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("cannot LISTEN for projection positions: %s", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                conn.add_termination_listener(on_lost)
                await conn.add_listener(self._channel, self._on_notify)
                self.listening, delay = True, 0.2
                self.cache.listening(True)
                for row in await conn.fetch("SELECT name, position FROM projection_checkpoints"):
                    self.confirm(row["name"], int(row["position"]))
                for name in self._waiters:  # hints may have been missed while not listening
                    self._wake(name, self.known(name))
                await lost.wait()
            except Exception as error:  # whatever it was, listen again
                log.warning("LISTEN connection failed: %s", error)
            finally:
                self.listening = False
                self._forget()
                conn.terminate()
            await asyncio.sleep(delay)

    async def wait_for(
        self, name: str, seq: int, timeout: float, read: Reread, *, hint_first: bool = False
    ) -> bool:
        """True once checkpoint `name` has reached `seq` by a read of its row (`read`
        returns the position it read; the caller keeps whatever else that read found);
        False after `timeout` seconds. `hint_first`: the first read waits for a
        notification claiming `seq` (or the time limit) unless one already came, or the
        LISTEN connection is down."""
        if self.known(name) >= seq:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiters = self._waiters.setdefault(name, [])
        read_now = not (hint_first and self.listening) or self._hinted.get(name, 0) >= seq
        while True:
            future: asyncio.Future[None] = loop.create_future()
            entry = (seq, future)
            waiters.append(entry)  # before the read: a hint from now on wakes `future`
            try:
                if read_now:
                    await self._confirm_read(name, read)
                    if self.known(name) >= seq:
                        return True
                read_now = True
                try:
                    await asyncio.wait_for(asyncio.shield(future), max(deadline - loop.time(), 0))
                except TimeoutError:
                    await self._confirm_read(name, read)
                    return self.known(name) >= seq
            finally:
                waiters.remove(entry)
                future.cancel()
