"""The projector: one durable pull consumer per projection, batches applied exactly once.

A session holds a PostgreSQL connection with the projection's advisory lock (one active
projector per projection; others wait as standbys), repositions the consumer (made by
`tally migrate`) at the checkpoint + 1 (PostgreSQL, not the consumer, knows what was
applied), then loops:
take a batch -> one transaction (skip seen, apply, checkpoint, NOTIFY) -> commit -> AckAll.
Any failure ends the session; the next one starts after a backoff, from the checkpoint.
A paused view (`pause.py`) ends the pull, not the session: the projector keeps its lock
and pulls again from the checkpoint once resumed.
"""

import asyncio
import contextlib
import logging
import operator
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

import asyncpg
from nats.aio.client import Client as NATS

from projections.base import Connection, Projection
from projections.batch import Retry, apply_batch
from projections.consumers import consumer_name, reposition
from projections.dlq import dead_letter
from projections.messages import StoredMessage, complete_prefix
from projections.partitions import ViewPartition, view_of
from projections.pause import PauseWatch
from projections.pull import PullReader

log = logging.getLogger("tally.projections")
_SEQ = operator.attrgetter("seq")  # a message's sequence, read without a Python call
AfterCommit = Callable[[int], Awaitable[None]]
# A span around each batch applied (view, messages): given by the composition root when
# tracing is on; the default opens nothing.
BatchSpan = Callable[[str, Sequence[StoredMessage]], AbstractContextManager[object]]
_UNTRACED = contextlib.nullcontext()


def untraced(view: str, messages: Sequence[StoredMessage]) -> AbstractContextManager[object]:
    return _UNTRACED


class ProjectorObserver(Protocol):
    def batch_applied(
        self, projection: str, applied: int, skipped: int, dead: int, position: int, seconds: float
    ) -> None: ...


@dataclass(frozen=True)
class ProjectorSettings:
    batch_size: int = 2000
    retry: Retry = field(default_factory=Retry)
    max_backoff: float = 5.0
    # of the projector's session: "off" commits without waiting for the WAL flush (a
    # batch and its checkpoint still commit or vanish together; see `connect`)
    synchronous_commit: Literal["on", "off"] = "off"


class Reposition(Exception):
    """The delivered sequences skip some: start again from the checkpoint to be sure."""


class _Taker:
    """The next batch to apply: up to `batch_size` messages, ending outside an atomic batch
    (one whose commit message is not here yet is held back, up to 2 s, then taken as it
    is); [] when nothing came within half a second."""

    def __init__(self, reader: PullReader, batch_size: int) -> None:
        self._reader = reader
        self._batch_size = batch_size
        self._limit = batch_size
        self._held_since: float | None = None

    async def next(self) -> list[StoredMessage]:
        reader = self._reader
        batch = await reader.take(self._limit, timeout=0.5)
        if not batch:
            return []
        complete = complete_prefix(batch)
        held_since = self._held_since
        if complete == 0 and (held_since is None or time.monotonic() - held_since < 2.0):
            self._held_since = held_since or time.monotonic()  # an atomic batch not all here
            reader.put_back(batch)
            await reader.wait_for_more(len(batch), timeout=0.5)
            self._limit = len(batch) + self._batch_size
            return []
        if 0 < complete < len(batch):
            reader.put_back(batch[complete:])
            batch = batch[:complete]
        self._held_since, self._limit = None, self._batch_size
        return batch

    async def more(self, batch: list[StoredMessage]) -> list[StoredMessage]:
        """`batch` with what arrived behind it since it was taken (while the batch before
        was applied), up to `batch_size`: taken again as one."""
        if not batch or len(batch) >= self._batch_size or not self._reader.buffered:
            return batch
        self._reader.put_back(batch)
        return await self.next()


def lock_key(projection: Projection) -> str:
    return f"tally.projection.{projection.name}"


async def stopped(stop: asyncio.Event, delay: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
    return stop.is_set()


class Projector:
    def __init__(
        self,
        projection: Projection,
        nc: NATS,
        database_url: str,
        settings: ProjectorSettings,
        *,
        after_commit: AfterCommit | None = None,
        observer: ProjectorObserver | None = None,
        batch_span: BatchSpan = untraced,
    ) -> None:
        self.projection = projection
        self._batch_span = batch_span
        self._nc = nc
        self._js = nc.jetstream()
        self._dsn = database_url
        self._settings = settings
        self._after_commit = after_commit
        self._observer = observer
        self.position = 0
        self._gap_seen: int | None = None
        self._next_consumer_seq: int | None = None  # of a partition's consumer
        self.pause = PauseWatch(view_of(projection))

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set; failures are logged and retried with backoff."""
        delay = 0.2
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = 0.2
            except Reposition:
                continue
            except Exception as error:
                log.warning(
                    "projector session failed, retrying",
                    extra={"projection": self.projection.name, "error": repr(error)},
                )
                if await stopped(stop, delay):
                    return
                delay = min(delay * 2, self._settings.max_backoff)

    async def connect(self) -> asyncpg.Connection:
        """The session's connection. With `synchronous_commit` off a crash of PostgreSQL may
        lose the last batches committed (never part of one: rows and checkpoint go
        together); the checkpoint goes back with them, so they are projected again from the
        stream, and the API forgets what it learned of the checkpoints when its LISTEN
        connection drops (read_side/positions.py)."""
        return await asyncpg.connect(
            self._dsn,
            timeout=5,
            command_timeout=60,
            server_settings={"synchronous_commit": self._settings.synchronous_commit},
        )

    async def _session(self, stop: asyncio.Event) -> None:
        conn = await self.connect()
        try:
            if not await self._lock(conn, stop):
                return
            await self._clear_dead_replay(conn)
            while not stop.is_set() and await self.pause.until_resumed(conn, stop):
                await self._pull(conn, stop)  # until stopped or paused
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()

    async def _pull(self, conn: Connection, stop: asyncio.Event) -> None:
        self.position = int(
            await conn.fetchval(
                "SELECT position FROM projection_checkpoints WHERE name = $1",
                self.projection.name,
            )
            or 0
        )
        await reposition(self._nc.jsm(), self.projection, self.position + 1)
        self._next_consumer_seq = None  # the reset consumer numbers its deliveries anew
        reader = PullReader(
            self._nc,
            self.projection.stream,
            consumer_name(self.projection),
            prefetch=self._settings.batch_size * 2,
        )
        await reader.start()
        try:
            await self._loop(conn, reader, stop)
        finally:
            await reader.close()

    async def _lock(self, conn: Connection, stop: asyncio.Event) -> bool:
        key = lock_key(self.projection)
        waiting = False
        while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
            if not waiting:
                log.info("another projector is active; standing by", extra={"lock": key})
                waiting = True
            if await stopped(stop, 1.0):
                return False
        return True

    async def _clear_dead_replay(self, conn: Connection) -> None:
        """A replay killed before its swap leaves `state = replaying`: clear it when no
        replay holds the replay lock. The lock is tried only when there is something to
        clear: held even briefly, it made a replay starting at that moment fail as busy."""
        state = await conn.fetchval(
            "SELECT state FROM projection_checkpoints WHERE name = $1", self.projection.name
        )
        if state != "replaying":
            return
        key = f"tally.replay.{view_of(self.projection)}"
        if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
            await conn.execute(
                "UPDATE projection_checkpoints SET state = 'live'"
                " WHERE name = $1 AND state = 'replaying'",
                self.projection.name,
            )
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def _loop(self, conn: Connection, reader: PullReader, stop: asyncio.Event) -> None:
        """Batch N's transaction runs as a task while batch N+1 is taken off the reader (its
        messages decoded as they arrive), so the projector's work on the next batch overlaps
        PostgreSQL's on this one. Transactions stay one after another: N+1 is applied only
        once N has committed, and a failure of N ends the session with N+1 neither applied
        nor acknowledged (the next session starts from the checkpoint)."""
        taker = _Taker(reader, self._settings.batch_size)
        applying: asyncio.Task[None] | None = None
        try:
            if await self.pause.pausing(conn):
                return
            batch = await taker.next()
            while not stop.is_set():
                if batch:
                    applying = asyncio.create_task(self._apply(conn, reader, batch))
                    await asyncio.sleep(0)  # its first statement goes out before we take
                following = await taker.next()
                if applying is not None:
                    task, applying = applying, None
                    await task
                    following = await taker.more(following)
                if stop.is_set() or await self.pause.pausing(conn):
                    return  # `following`, neither applied nor acknowledged, is read again
                batch = following
        finally:
            if applying is not None:
                applying.cancel()
                with contextlib.suppress(BaseException):
                    await applying

    def _check_gap(self, batch: list[StoredMessage]) -> None:
        """Messages lost in flight (a reconnect) show as a gap: in the stream sequences of a
        whole view, in the consumer's sequences of a partition (whose stream sequences skip
        the other partitions'). Reposition from the checkpoint; a second time at the same
        place, the gap is real (a purge) and the batch is taken."""
        if isinstance(self.projection, ViewPartition):
            first, expected = batch[0].consumer_seq, self._next_consumer_seq
            self._next_consumer_seq = batch[-1].consumer_seq + 1
        else:
            first, expected = min(map(_SEQ, batch)), self.position + 1
        if expected is not None and first > expected and self._gap_seen != first:
            self._gap_seen = first
            self._next_consumer_seq = None
            raise Reposition(f"expected {expected}, got {first}")

    async def _apply(
        self, conn: Connection, reader: PullReader, batch: list[StoredMessage]
    ) -> None:
        self._check_gap(batch)
        started = time.perf_counter()
        with self._batch_span(self.projection.name, batch):
            outcome = await apply_batch(
                conn,
                self.projection,
                batch,
                retry=self._settings.retry,
                dead_letter=self._dead_letter,
                expected=self.position,
            )
        self.position = outcome.position
        if outcome.running:
            self.pause.seen_running()  # no read of its own between the batches
        if self._after_commit is not None:
            await self._after_commit(outcome.position)
        await reader.ack_all(max(batch, key=_SEQ))
        if self._observer is not None:
            seconds = time.perf_counter() - started
            self._observer.batch_applied(
                self.projection.name,
                outcome.applied,
                outcome.skipped,
                outcome.dead,
                outcome.position,
                seconds,
            )

    async def _dead_letter(self, message: StoredMessage, error: str, attempts: int) -> None:
        await dead_letter(self._js, view_of(self.projection), message, error, attempts)
