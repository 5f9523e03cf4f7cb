"""Rebuilding a view from sequence 1 without downtime, compared with the live view first.

The new view is built in a shadow schema (`replay_<name>`, same tables, same index names)
from the whole stream (`StreamSource`: every message parsed and decoded once), in big
set-based batches; the old view keeps serving and the live projector keeps running. When
the shadow has caught up, one transaction locks the checkpoint rows (one per partition of a
partitioned view; the live projectors wait on them), applies what the shadow still lacks up
to the furthest of them, drops the old tables, moves the shadow tables into `public` and
saves every row at the shadow's position: all partitions swap at once. Stopped or failed
before that commit, the shadow schema is dropped and nothing changed.

In that transaction, when the live view stands where the shadow can be brought to (no
partition behind the shadow; see `LiveStand`), the shadow is brought to exactly the live
view's events and the two are compared row by row in PostgreSQL (`replay_check`) before
the rest is applied: a check (`check=True`) then rolls back and drops the shadow (the
projectors were held only for the comparison), `expect_equal` refuses a swap on any
difference, and a plain replay swaps and reports what it changed. A check waits up to
`settle` seconds for a lagging live view; a plain replay does not wait, and swaps
uncompared.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import asyncpg
from nats.aio.client import Client as NATS

from events.partitions import Layout
from projections.base import Connection, Projection
from projections.batch import lock_checkpoints, reset_checkpoints
from projections.guarded import Retry
from projections.in_order import apply_in_order
from projections.live_stand import LiveStand
from projections.messages import StoredMessage, complete_prefix, decode_all
from projections.parking import parked_ddl, swap_parked
from projections.partitions import ViewPartition, projectors_of, stream_partitions
from projections.replay_check import Comparison, compare
from projections.replay_letters import align_dead_letters, drop_stale
from projections.replay_outcome import ReplayBusy as ReplayBusy
from projections.replay_outcome import ReplayDiffers as ReplayDiffers
from projections.replay_outcome import ReplayNotComparable as ReplayNotComparable
from projections.replay_outcome import ReplayResult as ReplayResult
from projections.replay_outcome import ReplayStopped as ReplayStopped
from projections.replay_tally import ShadowTally
from projections.shadow import shadow_ddl, shadow_schema, swap_tables
from projections.stream_source import StreamSource

log = logging.getLogger("tally.replay")
Progress = Callable[[int, int], None]  # (events done, events in the stream)
Phase = Callable[[str], None]  # "catching-up" (the swap begins), "comparing"
SWAP_ATTEMPTS = 5


class _LiveBehind(Exception):
    pass


class _Checked(Exception):
    pass


class Replay:
    def __init__(
        self,
        projection: Projection,
        nc: NATS,
        database_url: str,
        *,
        batch_size: int = 5000,
        progress: Progress | None = None,
        phase: Phase | None = None,
        stop: asyncio.Event | None = None,
        check: bool = False,
        expect_equal: bool = False,
        settle: float = 60.0,
        partitions: int | None = None,
    ) -> None:
        self.projection = projection
        self._partitions = partitions  # of its stream; None: read from the server at run
        self._nc = nc
        self._dsn = database_url
        self._batch_size = batch_size
        self._progress = progress or (lambda done, total: None)
        self._phase = phase or (lambda name: None)
        self._stop = stop or asyncio.Event()
        self._schema = shadow_schema(projection)
        self._source = StreamSource(nc, projection.stream, prefetch=2 * batch_size)
        self._tally = ShadowTally(partitioned=False)
        self._rows: list[Projection] = [projection]  # its checkpoint rows: one a partition
        self._check, self._expect_equal, self._settle = check, expect_equal, settle
        self._comparing = True
        self._comparison: Comparison | None = None
        self._uncompared = ""
        self._compare_seconds = 0.0
        self._stale: list[int] = []  # dead letters the swapped-in rebuild does not keep

    async def run(self) -> ReplayResult:
        conn = await asyncpg.connect(self._dsn, timeout=10, command_timeout=600)
        lock = f"tally.replay.{self.projection.name}"  # also checked by the projector
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock):
                raise ReplayBusy(f"a replay of {self.projection.name} is already running")
            count = self._partitions
            if count is None:
                count = await stream_partitions(self._nc.jetstream(), self.projection.stream)
            self._rows = projectors_of(self.projection, Layout({self.projection.stream: count}))
            self._tally = ShadowTally(partitioned=isinstance(self._rows[0], ViewPartition))
            await self._prepare(conn)
            swapped = False
            try:
                await self._build(conn)
                swapped = not self._check
            finally:
                if not swapped:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self._discard(conn))
            return ReplayResult(
                self._tally.position,
                self._tally.events,
                self._tally.skipped,
                self._comparison,
                swapped,
                self._uncompared,
                self._compare_seconds,
            )
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _prepare(self, conn: Connection) -> None:
        async with conn.transaction():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE')
            await conn.execute(f'CREATE SCHEMA "{self._schema}"')
            for statement in shadow_ddl(self.projection, self._schema)[0]:
                await conn.execute(statement)
            await conn.execute(parked_ddl(self._schema))  # its own parked events
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

    async def _fold(self, conn: Connection, messages: list[StoredMessage]) -> None:
        if not messages:
            return
        events, poison = decode_all(messages)
        undecodable = [(item.message, item.error) for item in poison]
        done = await apply_in_order(
            conn,
            self.projection,
            self._schema,
            self.projection.name,
            messages,
            events,
            undecodable,
            Retry(1, 0),
        )  # parked as the live projector parks them: counted dead
        dead = {message.seq for message, _ in done.dead}
        dead |= {message.seq for message in [*done.parked, *done.dropped]}
        self._tally.record(messages, dead)

    async def _apply(self, conn: Connection, batch: list[StoredMessage]) -> None:
        await self._fold(conn, self._tally.fresh(batch))

    async def _build(self, conn: Connection) -> None:
        await self._source.open()
        try:
            total, idle = await self._last_seq(), 0
            while True:
                if self._stop.is_set():
                    raise ReplayStopped("stopped before the swap")
                if self._tally.position >= total:
                    total = await self._last_seq()
                    if total - self._tally.position <= self._batch_size:
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
                self._progress(self._tally.position, total)
            self._phase("catching-up")
            for statement in shadow_ddl(self.projection, self._schema)[1]:
                await conn.execute(statement)
            await self._swap(conn)
            self._progress(self._tally.position, max(total, self._tally.position))
        finally:
            await self._source.close()

    async def _swap(self, conn: Connection) -> None:
        """Compare and swap the shadow in (or only compare, for a check). A deadlock or lock
        timeout (readers hold the old tables) rolls back, gives back what was taken and
        tries again; so does a live view behind the shadow, until `settle` has passed."""
        deadline = time.monotonic() + (self._settle if self._strict else 0.0)
        attempt = 0
        while True:
            state = self._tally.copy()
            taken: list[StoredMessage] = []
            try:
                await self._swap_once(conn, taken)
                break
            except _Checked:
                return
            except _LiveBehind as behind:
                self._restore(state, taken)
                if time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                elif self._strict:
                    raise ReplayNotComparable(str(behind)) from None
                else:
                    self._comparing, self._uncompared = False, str(behind)
            except (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError) as error:
                self._restore(state, taken)
                attempt += 1
                if attempt == SWAP_ATTEMPTS:
                    raise
                log.warning("replay swap failed, retrying", extra={"error": str(error)})
                await asyncio.sleep(0.2 * attempt)
        await drop_stale(self._nc.jetstream(), self.projection.name, self._stale)
        log.info(
            "replay swapped in",
            extra={"projection": self.projection.name, "position": self._tally.position},
        )

    @property
    def _strict(self) -> bool:
        """Whether the comparison is the point (a check, or a swap only when equal)."""
        return self._check or self._expect_equal

    def _restore(self, state: ShadowTally, taken: list[StoredMessage]) -> None:
        self._tally = state
        self._source.put_back(taken)

    async def _catch_up(
        self, conn: Connection, stand: LiveStand, taken: list[StoredMessage]
    ) -> list[StoredMessage]:
        """Apply to the shadow what the live view has and it lacks; when comparing, hold
        back (and return) what follows a partition's checkpoint."""
        held: list[StoredMessage] = []
        while self._tally.position < stand.furthest:
            batch = await self._take(timeout=5.0)
            if not batch:
                raise TimeoutError(
                    f"replay stuck at {self._tally.position}, live is at {stand.furthest}"
                )
            taken += batch
            fresh = self._tally.fresh(batch)
            now = [message for message in fresh if not self._comparing or stand.holds(message)]
            held += [message for message in fresh if self._comparing and not stand.holds(message)]
            await self._fold(conn, now)
        return held

    async def _swap_once(self, conn: Connection, taken: list[StoredMessage]) -> None:
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '10s'")
            # the same lock order as the projector (checkpoint row, then the tables) and the
            # queries (parent table, then child): no deadlock with either
            checkpoints = await lock_checkpoints(conn, self._rows)  # every partition's
            stand = LiveStand.of(self._rows, checkpoints)
            if self._comparing:
                behind = await stand.lagging(self._nc.jetstream(), self._tally.position)
                if behind:
                    raise _LiveBehind(
                        f"the live view stands behind the rebuild at {self._tally.position}"
                        f" (checkpoints {dict(sorted(checkpoints.items()))})"
                    )
            held = await self._catch_up(conn, stand, taken)
            if self._comparing:
                self._phase("comparing")
                started = time.perf_counter()
                self._comparison = await compare(
                    conn, self.projection, self._schema, stand.furthest
                )
                self._compare_seconds = time.perf_counter() - started
                if self._check:
                    raise _Checked  # rolls back: the checkpoints are released untouched
                if self._expect_equal and not self._comparison.identical:
                    raise ReplayDiffers(self._comparison)
                await self._fold(conn, held)
            await swap_tables(conn, self.projection, self._schema)
            await swap_parked(conn, self._schema, self.projection.name)
            js = self._nc.jetstream()
            self._stale = await align_dead_letters(js, conn, self.projection.name)
            await conn.execute(f'DROP SCHEMA "{self._schema}"')
            await self._set_state(conn, "live")
            counted = [(row, self._tally.counted(row)) for row in self._rows]
            await reset_checkpoints(conn, counted, self._tally.position)
