"""The replays asked for through the admin API, run by the projections worker (`tally
project`, also under `tally up`), never by the API process.

Once a second the worker looks for a `building` row of its views that no worker took,
takes it on a connection of its own (the row's advisory lock `tally.replay-request.<id>`,
then `started_at`), and runs `projections.replay.Replay` with it: progress and phase go to
the row about once a second on that connection, which also reads the row's `cancel` flag.
What ends the replay ends the row: `swapped`, `cancelled` (asked to, or shadow dropped),
`failed` (with the error). Replay swaps in one transaction, so the old view stays whole.

A worker that dies mid-way loses its connection and with it the row's lock: any worker
marks a running row whose lock is free `failed` (its shadow is dropped by the next replay
of the view; the projectors clear the view's `replaying` state themselves).
"""

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable

import asyncpg
from nats.aio.client import Client as NATS

from projections.registry import get_projection
from projections.replay import Replay, ReplayBusy, ReplayResult, ReplayStopped

log = logging.getLogger("tally.replay")
# PostgreSQL gone or restarting: asyncpg's InternalClientError ("another operation is in
# progress") comes from a connection the server dropped in the middle of a statement; it
# is no InterfaceError, and escaping the loop it ended `tally project` (a chaos run's crash)
UNREACHABLE = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    TimeoutError,
)
EVERY = 1.0  # seconds between two looks for requests, and between two progress writes
RUNNING = ["building", "catching-up", "comparing"]
WAITING = """SELECT id, projection FROM replay_requests
WHERE state = 'building' AND started_at IS NULL AND NOT cancel AND projection = any($1::text[])
ORDER BY requested_at"""
TAKE = """UPDATE replay_requests SET started_at = now()
WHERE id = $1 AND state = 'building' AND started_at IS NULL AND NOT cancel RETURNING id"""
PROGRESS = """UPDATE replay_requests SET done = $2, total = $3, rate = $4, state = $5
WHERE id = $1 RETURNING cancel"""
FINISH = """UPDATE replay_requests SET state = $2, done = $3, total = $4, rate = $5,
    error = $6, comparison = $7, finished_at = now()
WHERE id = $1"""
ORPHANS = """SELECT id FROM replay_requests
WHERE state = any($1::text[]) AND started_at IS NOT NULL AND projection = any($2::text[])"""
ORPHANED = """UPDATE replay_requests SET state = 'failed', finished_at = now(),
    error = 'the worker running it stopped before the swap; the old view is untouched'
WHERE id = $1 AND state = any($2::text[])"""


def request_lock(id: uuid.UUID) -> str:
    return f"tally.replay-request.{id}"


class ReplayRun:
    """One replay request taken by this worker, on `conn` (holding its lock)."""

    def __init__(self, id: uuid.UUID, view: str, conn: asyncpg.Connection) -> None:
        self.id, self.view, self.conn = id, view, conn
        self.done = self.total = 0
        self.state = "building"
        self.stop = asyncio.Event()
        self.cancelled = False
        self._started = time.monotonic()

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def phase(self, name: str) -> None:
        self.state = name

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    async def report(self, every: float, stop: asyncio.Event) -> None:
        """Progress to the row every `every` s; the row's `cancel` or the process's stop
        stops the replay, and so does a lost connection (the lock went with it)."""
        while not self.stop.is_set():
            await asyncio.sleep(every)
            try:
                cancel = await self.conn.fetchval(
                    PROGRESS, self.id, self.done, self.total, self.rate, self.state, timeout=5
                )
            except UNREACHABLE:
                log.warning("replay request row unreachable; stopping the replay", exc_info=True)
                self.stop.set()
                return
            if cancel:
                self.cancelled = True
                self.stop.set()
            if stop.is_set():
                self.stop.set()

    async def finish(
        self, state: str, error: str | None = None, result: ReplayResult | None = None
    ) -> None:
        comparison = None
        if result is not None and result.comparison is not None:
            shown = dataclasses.asdict(result.comparison)
            comparison = json.dumps({"identical": result.comparison.identical, **shown})
        if result is not None:
            self.done = self.total = max(result.position, self.total)
        await self.conn.execute(
            FINISH, self.id, state, self.done, self.total, self.rate, error, comparison
        )
        log.info(
            "replay request finished",
            extra={"replay_id": str(self.id), "view": self.view, "state": state},
        )


class ReplayWorker:
    def __init__(
        self,
        nc: NATS,
        dsn: str,
        views: Iterable[str],
        *,
        batch_size: int = 5000,
        every: float | None = None,
    ) -> None:
        self._nc = nc
        self._dsn = dsn  # the database's owner: a replay creates, drops and swaps tables
        self._views = sorted(set(views))
        self._batch_size = batch_size
        self._every = EVERY if every is None else every
        self._running: dict[str, asyncio.Task[None]] = {}  # by view

    async def run(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while not stop.is_set():
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self._dsn, timeout=5)
                    await self._sweep(conn)
                    await self._take(conn, stop)
                except UNREACHABLE:
                    log.warning("replay requests unreachable, trying again", exc_info=True)
                    if conn is not None:
                        conn.terminate()
                        conn = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._every)
        finally:
            if self._running:
                await asyncio.gather(*self._running.values(), return_exceptions=True)
            if conn is not None:
                conn.terminate()

    async def _sweep(self, conn: asyncpg.Connection) -> None:
        """Running rows whose lock nobody holds: their worker died. This connection holds
        no request lock, so a lock it gets is a free one."""
        for row in await conn.fetch(ORPHANS, RUNNING, self._views):
            key = request_lock(row["id"])
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                try:
                    await conn.execute(ORPHANED, row["id"], RUNNING)
                    log.warning(
                        "replay request left by a dead worker marked failed",
                        extra={"replay_id": str(row["id"])},
                    )
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def _take(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        for row in await conn.fetch(WAITING, self._views):
            view = str(row["projection"])
            if view in self._running:
                continue
            own = await asyncpg.connect(self._dsn, timeout=5)
            try:
                key = request_lock(row["id"])
                taken = await own.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key)
                if taken and await own.fetchval(TAKE, row["id"]):
                    run = ReplayRun(row["id"], view, own)
                    task = asyncio.create_task(self._replay(run, stop), name=f"replay-{view}")
                    self._running[view] = task
                    task.add_done_callback(self._forget(view))
                    own = None  # the task closes it
            finally:
                if own is not None:
                    own.terminate()

    def _forget(self, view: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self._running.pop(view, None)

        return forget

    async def _replay(self, run: ReplayRun, stop: asyncio.Event) -> None:
        log.info("replay request taken", extra={"replay_id": str(run.id), "view": run.view})
        reporter = asyncio.create_task(run.report(self._every, stop))
        try:
            replay = Replay(
                get_projection(run.view),
                self._nc,
                self._dsn,
                batch_size=self._batch_size,
                progress=run.progress,
                phase=run.phase,
                stop=run.stop,
            )
            outcome: tuple[str, str | None, ReplayResult | None]
            try:
                result = await replay.run()
                outcome = ("swapped", None, result)
            except ReplayStopped:
                if run.cancelled:
                    outcome = ("cancelled", None, None)
                else:
                    outcome = ("failed", "stopped with its worker before the swap", None)
            except ReplayBusy as error:
                outcome = ("failed", str(error), None)
            except Exception as error:
                log.warning("replay request failed", exc_info=True)
                outcome = ("failed", f"{type(error).__name__}: {error}", None)
            run.stop.set()
            await reporter
            with contextlib.suppress(Exception):
                await run.finish(*outcome)
        finally:
            run.stop.set()
            reporter.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run.conn.close(), 2)
            run.conn.terminate()
