"""Read-your-writes: how far each projection has got, learnt from PostgreSQL notifications.

One LISTEN connection per API process; the projectors NOTIFY `name:stream:seq` in the
transaction that saves their checkpoint, so a notification arrives only after the commit.
A request waiting for a position is woken by a notification, never by polling; it reads
the checkpoint once after registering (so no notification can slip by) and once more
when its time is up (in case the LISTEN connection was down).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger("tally.read_side.positions")
CHANNEL = "tally_projections"
Reread = Callable[[], Awaitable[int]]


class ProjectionPositions:
    def __init__(self, dsn: str, *, channel: str = CHANNEL) -> None:
        self._dsn = dsn
        self._channel = channel
        self._known: dict[str, int] = {}
        self._waiters: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="tally-listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def known(self, name: str) -> int:
        return self._known.get(name, 0)

    def advance(self, name: str, seq: int) -> None:
        if seq <= self._known.get(name, 0):
            return
        self._known[name] = seq
        waiters = self._waiters.get(name, [])
        for target, future in waiters:
            if target <= seq and not future.done():
                future.set_result(None)

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        name, _, seq = payload.rpartition(":")
        with contextlib.suppress(ValueError):
            self.advance(name.partition(":")[0], int(seq))

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
                for row in await conn.fetch("SELECT name, position FROM projection_checkpoints"):
                    self.advance(row["name"], int(row["position"]))
                await lost.wait()
            except Exception as error:  # whatever it was, listen again
                log.warning("LISTEN connection failed: %s", error)
            finally:
                self.listening = False
                conn.terminate()
            await asyncio.sleep(delay)

    async def wait_for(self, name: str, seq: int, timeout: float, reread: Reread) -> bool:
        """True once projection `name` has applied `seq`; False after `timeout` seconds."""
        if self.known(name) >= seq:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (seq, future)
        self._waiters.setdefault(name, []).append(entry)
        try:
            self.advance(name, await reread())
            if not future.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(future), timeout)
            if not future.done():
                self.advance(name, await reread())
            return self.known(name) >= seq
        finally:
            self._waiters[name].remove(entry)
            future.cancel()
