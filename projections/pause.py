"""A paused view (a row in `projection_pauses`, written by the admin API's pause and by
`tally pause`): every projector of the view, each partition's, stops pulling but keeps its
advisory lock and its checkpoint, and starts again from the checkpoint once the row is
gone. The row outlives the processes, so a projector that starts while its view is paused
stands still too. Read at most once a `every` seconds on the projector's own connection."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from projections.base import Connection

log = logging.getLogger("tally.projections")
PAUSED = "SELECT EXISTS (SELECT 1 FROM projection_pauses WHERE name = $1)"


class PauseWatch:
    def __init__(
        self, view: str, every: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.view = view
        self._every = every
        self._clock = clock
        self._read_at: float | None = None
        self.paused = False  # as last read

    async def read(self, conn: Connection) -> bool:
        self.paused = bool(await conn.fetchval(PAUSED, self.view))
        self._read_at = self._clock()
        return self.paused

    def seen_running(self) -> None:
        """A batch's transaction has just found the view not paused: as good as a read
        (`batch_transaction`'s one message), so the projector under traffic never stops
        between two batches for a read of its own."""
        self.paused = False
        self._read_at = self._clock()

    async def pausing(self, conn: Connection) -> bool:
        """Whether the view is paused, read again when the last read is `every` s old."""
        if self._read_at is None or self._clock() - self._read_at >= self._every:
            await self.read(conn)
        return self.paused

    async def until_resumed(self, conn: Connection, stop: asyncio.Event) -> bool:
        """Wait while the view is paused, holding the lock; False when `stop` came first."""
        if not await self.read(conn):
            return True
        log.info("view paused; standing still", extra={"view": self.view})
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every)
            if stop.is_set():
                return False
            if not await self.read(conn):
                log.info("view resumed", extra={"view": self.view})
                return True
