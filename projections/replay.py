"""Rebuilding a view from sequence 1 without downtime.

The new view is built in a shadow schema (`replay_<name>`, same tables, same index names)
from the whole stream (`StreamSource`: every message parsed and decoded once), in big
set-based batches; the old view keeps serving and the live projector keeps running. When
the shadow has caught up, one transaction locks the checkpoint rows (one per partition of a
partitioned view; the live projectors wait on them), applies what the shadow still lacks up
to the furthest of them, drops the old tables, moves the shadow tables into `public` and
saves every row at the shadow's position: all partitions swap at once. Stopped or failed
before that commit, the shadow schema is dropped and nothing changed.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from nats.aio.client import Client as NATS
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from events.partitions import Layout
from projections.base import Connection, Projection
from projections.batch import Retry, apply_guarded, lock_checkpoints, save_checkpoints
from projections.messages import StoredMessage, complete_prefix, decode_all
from projections.partitions import projectors_of, stream_partitions
from projections.stream_source import StreamSource

log = logging.getLogger("tally.replay")
Progress = Callable[[int, int], None]  # (events done, events in the stream)
SWAP_ATTEMPTS = 5


class ReplayBusy(Exception):
    """Another replay of the same projection is running."""


class ReplayStopped(Exception):
    """Asked to stop before the swap: the old view is untouched."""


@dataclass(frozen=True)
class ReplayResult:
    position: int
    events: int
    skipped: int


def shadow_schema(projection: Projection) -> str:
    return f"replay_{projection.name}"


def shadow_ddl(projection: Projection, schema: str) -> tuple[list[str], list[str]]:
    """CREATE statements for the projection's tables in `schema` (with their keys), and
    for their secondary indexes, built after the bulk load; index names unchanged."""
    copies, dialect = MetaData(), postgresql.dialect()  # type: ignore[no-untyped-call]
    tables: list[str] = []
    indexes: list[str] = []
    for table in projection.tables:
        copy = table.to_metadata(copies, schema=schema)
        tables.append(str(CreateTable(copy).compile(dialect=dialect)))
        indexes += [str(CreateIndex(index).compile(dialect=dialect)) for index in copy.indexes]
    return tables, indexes


class Replay:
    def __init__(
        self,
        projection: Projection,
        nc: NATS,
        database_url: str,
        *,
        batch_size: int = 5000,
        progress: Progress | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.projection = projection
        self._nc = nc
        self._dsn = database_url
        self._batch_size = batch_size
        self._progress = progress or (lambda done, total: None)
        self._stop = stop or asyncio.Event()
        self._schema = shadow_schema(projection)
        self._source = StreamSource(nc, projection.stream, prefetch=2 * batch_size)
        self._position = 0
        self._events = 0
        self._skipped = 0
        self._rows: list[Projection] = [projection]  # its checkpoint rows: one a partition

    async def run(self) -> ReplayResult:
        conn = await asyncpg.connect(self._dsn, timeout=10, command_timeout=600)
        lock = f"tally.replay.{self.projection.name}"  # also checked by the projector
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock):
                raise ReplayBusy(f"a replay of {self.projection.name} is already running")
            count = await stream_partitions(self._nc.jetstream(), self.projection.stream)
            self._rows = projectors_of(self.projection, Layout({self.projection.stream: count}))
            await self._prepare(conn)
            swapped = False
            try:
                await self._build(conn)
                swapped = True
            finally:
                if not swapped:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self._discard(conn))
            return ReplayResult(self._position, self._events, self._skipped)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _prepare(self, conn: Connection) -> None:
        async with conn.transaction():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE')
            await conn.execute(f'CREATE SCHEMA "{self._schema}"')
            for statement in shadow_ddl(self.projection, self._schema)[0]:
                await conn.execute(statement)
            await lock_checkpoints(conn, self._rows)
            await self._set_state(conn, "replaying")

    async def _discard(self, conn: Connection) -> None:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE')
        await self._set_state(conn, "live")
        log.info("replay stopped; the old view is untouched", extra={"schema": self._schema})

    async def _set_state(self, conn: Connection, state: str) -> None:
        await conn.execute(
            "UPDATE projection_checkpoints SET state = $2 WHERE name = any($1::text[])",
            [row.name for row in self._rows],
            state,
        )

    async def _take(self, timeout: float) -> list[StoredMessage]:
        batch = await self._source.take(self._batch_size, timeout)
        keep = complete_prefix(batch)
        if 0 < keep < len(batch):
            self._source.put_back(batch[keep:])
            batch = batch[:keep]
        return batch

    async def _last_seq(self) -> int:
        info = await self._nc.jetstream().stream_info(self.projection.stream)
        return int(info.state.last_seq)

    async def _apply(self, conn: Connection, batch: list[StoredMessage]) -> None:
        # a source re-created after a gap may deliver the last ones again
        batch = [message for message in batch if message.seq > self._position]
        if not batch:
            return
        events, poison = decode_all(batch)
        failed = await apply_guarded(conn, self.projection, self._schema, events, Retry(1, 0))
        self._skipped += len(poison) + len(failed)
        self._events += len(batch)
        self._position = max(self._position, max(message.seq for message in batch))

    async def _build(self, conn: Connection) -> None:
        await self._source.open()
        try:
            total, idle = await self._last_seq(), 0
            while True:
                if self._stop.is_set():
                    raise ReplayStopped("stopped before the swap")
                if self._position >= total:
                    total = await self._last_seq()
                    if total - self._position <= self._batch_size:
                        break
                batch = await self._take(timeout=1.0)
                if not batch:
                    idle += 1
                    if idle >= 3:  # nothing more arrives (the last messages were purged)
                        break
                    continue
                idle = 0
                async with conn.transaction():
                    # the shadow is thrown away if we crash: no need to wait for fsync
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await self._apply(conn, batch)
                self._progress(self._position, total)
            for statement in shadow_ddl(self.projection, self._schema)[1]:
                await conn.execute(statement)
            await self._swap(conn)
            self._progress(self._position, max(total, self._position))
        finally:
            await self._source.close()

    async def _swap(self, conn: Connection) -> None:
        """Swap the shadow in; a deadlock or lock timeout (readers hold the old tables)
        rolls back, gives back what was taken and tries again."""
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            state = (self._position, self._events, self._skipped)
            taken: list[StoredMessage] = []
            try:
                await self._swap_once(conn, taken)
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError) as error:
                self._position, self._events, self._skipped = state
                self._source.put_back(taken)
                if attempt == SWAP_ATTEMPTS:
                    raise
                log.warning("replay swap failed, retrying", extra={"error": str(error)})
                await asyncio.sleep(0.2 * attempt)
        log.info(
            "replay swapped in",
            extra={"projection": self.projection.name, "position": self._position},
        )

    async def _swap_once(self, conn: Connection, taken: list[StoredMessage]) -> None:
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '10s'")
            # the same lock order as the projector (checkpoint row, then the tables) and the
            # queries (parent table, then child): no deadlock with either
            live = await lock_checkpoints(conn, self._rows)  # every partition's
            while self._position < live:  # what the live view has and the shadow lacks
                batch = await self._take(timeout=5.0)
                if not batch:
                    raise TimeoutError(f"replay stuck at {self._position}, live is at {live}")
                taken += batch
                await self._apply(conn, batch)
            names = ", ".join(f'"public"."{table.name}"' for table in self.projection.tables)
            await conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
            for table in reversed(self.projection.tables):
                await conn.execute(f'DROP TABLE "public"."{table.name}"')
            for table in self.projection.tables:
                await conn.execute(f'ALTER TABLE "{self._schema}"."{table.name}" SET SCHEMA public')
            await conn.execute(f'DROP SCHEMA "{self._schema}"')
            await self._set_state(conn, "live")
            await save_checkpoints(conn, self._rows, self._position)
