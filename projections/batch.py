"""One batch, one transaction: lock the checkpoint, skip what it already covers, apply the
rest set-based, dead-letter what cannot be decoded or applied, save the checkpoint with the
audit counters and notify listeners. The notification is delivered at commit, never before.

The counters (applied, dead, ignored: another partition's sequences passed over) grow in
the transaction that moves the position, so `applied + dead + ignored == position -
counted_from` holds at every commit; an event skipped by the projector breaks it."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from events.codec import DecodeError
from events.envelope import CORRELATION_ID
from projections.base import Connection, Projection
from projections.facts import Fact
from projections.messages import StoredMessage, decode_all
from projections.partitions import ViewPartition

log = logging.getLogger("tally.projections")
CHANNEL = "tally_projections"
DeadLetterSink = Callable[[StoredMessage, str, int], Awaitable[object]]
_POISON_SQLSTATE_CLASSES = ("22", "23")  # data exceptions, integrity violations
MAX_LOGGED_IDS = 100


def is_poison_error(error: BaseException) -> bool:
    """An error that the event itself causes (retrying the database will not help)."""
    if isinstance(error, asyncpg.PostgresError):
        return str(getattr(error, "sqlstate", "") or "")[:2] in _POISON_SQLSTATE_CLASSES
    return isinstance(error, DecodeError | TypeError | ValueError | KeyError)


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    backoff: float = 0.1  # seconds before the 2nd attempt, doubling each time

    async def pause(self, attempt: int) -> None:
        await asyncio.sleep(self.backoff * 2 ** (attempt - 1))


async def apply_guarded(
    conn: Connection,
    projection: Projection,
    schema: str,
    events: Sequence[Fact],
    retry: Retry,
) -> list[tuple[Fact, str]]:
    """Apply `events` set-based; when that fails because of an event, apply them one by one
    under savepoints, each retried with backoff. Returns the events that failed for good."""
    if not events:
        return []
    try:
        async with conn.transaction():
            await projection.apply(conn, schema, events)
        return []
    except Exception as error:
        if not is_poison_error(error):
            raise
        log.warning("batch failed, applying one by one", extra={"error": str(error)})
    failed: list[tuple[Fact, str]] = []
    for event in events:
        for attempt in range(1, retry.attempts + 1):
            try:
                async with conn.transaction():
                    await projection.apply(conn, schema, [event])
                break
            except Exception as error:
                if not is_poison_error(error):
                    raise
                if attempt == retry.attempts:
                    failed.append((event, f"{type(error).__name__}: {error}"))
                else:
                    await retry.pause(attempt)
    return failed


async def decode_guarded(
    messages: Sequence[StoredMessage], retry: Retry
) -> tuple[list[Fact], list[tuple[StoredMessage, str]]]:
    """Decode every message; one that fails is tried again with backoff, then given up."""
    events, poison = decode_all(messages)
    failed: list[tuple[StoredMessage, str]] = []
    for item in poison:
        error = item.error
        for attempt in range(1, retry.attempts):
            await retry.pause(attempt)
            try:
                events.append(item.message.decode())
                break
            except DecodeError as again:
                error = str(again)
        else:
            failed.append((item.message, error))
    events.sort(key=lambda event: event.seq)
    return events, failed


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    skipped: int
    dead: int
    position: int


_LOCK = "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE"
_SAVE = """WITH saved AS (
    UPDATE projection_checkpoints SET position = $2, updated_at = now(),
        applied = applied + $5, dead = dead + $6, ignored = ignored + $7
    WHERE name = $1
    RETURNING position)
SELECT pg_notify($3, $4) FROM saved"""


@dataclass(frozen=True)
class Counted:
    """What a batch adds to the audit counters."""

    applied: int = 0
    dead: int = 0
    ignored: int = 0


async def lock_checkpoint(conn: Connection, projection: Projection) -> int:
    """The checkpoint, locked until the transaction ends (made at the first batch)."""
    position: int | None = await conn.fetchval(_LOCK, projection.name)
    if position is None:
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, stream) VALUES ($1, $2)"
            " ON CONFLICT (name) DO NOTHING",
            projection.name,
            projection.stream,
        )
        position = await conn.fetchval(_LOCK, projection.name)
    return int(position or 0)


async def save_checkpoint(
    conn: Connection, projection: Projection, position: int, counted: Counted
) -> None:
    """Save the checkpoint and its counters and notify listeners (delivered at commit), in
    one round trip."""
    payload = f"{projection.name}:{projection.stream}:{position}"
    await conn.execute(
        _SAVE,
        projection.name,
        position,
        CHANNEL,
        payload,
        counted.applied,
        counted.dead,
        counted.ignored,
    )


async def lock_checkpoints(conn: Connection, projections: Sequence[Projection]) -> dict[str, int]:
    """Every checkpoint row of a view (one per partition) locked, in name order as anyone
    locking several does; the position of each, by row name."""
    chosen = sorted(projections, key=lambda projection: projection.name)
    return {projection.name: await lock_checkpoint(conn, projection) for projection in chosen}


_RESET = """UPDATE projection_checkpoints SET position = $2, updated_at = now(),
    applied = $3, dead = $4, ignored = $5, counted_from = 0 WHERE name = $1"""


async def reset_checkpoints(
    conn: Connection, counts: Sequence[tuple[Projection, Counted]], at: int
) -> None:
    """Every row at `at` with the counts of a view rebuilt from the stream's start (a
    replay's swap), notifying listeners."""
    for projection, counted in counts:
        await conn.execute(
            _RESET, projection.name, at, counted.applied, counted.dead, counted.ignored
        )
        await save_checkpoint(conn, projection, at, Counted())


async def apply_batch(
    conn: Connection,
    projection: Projection,
    messages: Sequence[StoredMessage],
    *,
    retry: Retry,
    dead_letter: DeadLetterSink,
) -> BatchOutcome:
    """The whole batch in ONE transaction together with the checkpoint."""
    async with conn.transaction():
        position = await lock_checkpoint(conn, projection)
        by_seq = {message.seq: message for message in messages if message.seq > position}
        fresh = [by_seq[seq] for seq in sorted(by_seq)]
        if not fresh:
            return BatchOutcome(0, len(messages), 0, position)
        events, undecodable = await decode_guarded(fresh, retry)
        failed = await apply_guarded(conn, projection, "public", events, retry)
        dead = [*undecodable, *((by_seq[event.seq], error) for event, error in failed)]
        for message, error in sorted(dead, key=lambda item: item[0].seq):
            log.error(
                "dead-lettering an event",
                extra={
                    "projection": projection.name,
                    "seq": message.seq,
                    "error": error,
                    "correlation_id": message.headers.get(CORRELATION_ID),
                },
            )
            await dead_letter(message, error, retry.attempts)
        applied = len(events) - len(failed)
        passed_over = fresh[-1].seq - position - len(fresh) if partitioned(projection) else 0
        counted = Counted(applied, len(dead), passed_over)
        await save_checkpoint(conn, projection, fresh[-1].seq, counted)
        outcome = BatchOutcome(applied, len(messages) - len(fresh), len(dead), fresh[-1].seq)
    _log_applied(projection, fresh[0].seq, outcome, events)
    return outcome


def partitioned(projection: Projection) -> bool:
    """A partition of a view sees only its own sequences (the others' are passed over)."""
    return isinstance(projection, ViewPartition)


def _log_applied(
    projection: Projection, first: int, outcome: BatchOutcome, events: Sequence[Fact]
) -> None:
    """One line per committed batch, naming the requests whose events it applied, so one
    correlation id can be followed from the API through the stream into the view."""
    if not log.isEnabledFor(logging.INFO):
        return
    correlation_ids = list(dict.fromkeys(event.correlation_id for event in events))
    log.info(
        "batch applied",
        extra={
            "projection": projection.name,
            "seq": f"{first}-{outcome.position}",
            "applied": outcome.applied,
            "dead": outcome.dead,
            "correlation_ids": correlation_ids[:MAX_LOGGED_IDS],
            "more_correlation_ids": max(0, len(correlation_ids) - MAX_LOGGED_IDS),
        },
    )
