"""One batch, one transaction: lock the checkpoint, skip what it already covers, apply the
rest set-based in each aggregate's order (`in_order`: an event behind a dead-lettered one
of its aggregate is parked), dead-letter what cannot be decoded or applied, save the
checkpoint with the audit counters and notify listeners. The notification is delivered at
commit, never before.

The counters (applied, dead, ignored: another partition's sequences passed over) grow in
the transaction that moves the position, so `applied + dead + ignored == position -
counted_from` holds at every commit; an event skipped by the projector breaks it. A parked
event counts as dead until it is released."""

import logging
import operator
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from events.envelope import CORRELATION_ID
from projections.base import Connection, Projection
from projections.batch_transaction import SAVE, LeanRefused, batch_transaction, lean_save
from projections.facts import Fact
from projections.guarded import Retry as Retry  # re-exported: the projectors' settings
from projections.guarded import decode_guarded
from projections.in_order import PoisonInBatch, apply_in_order
from projections.messages import StoredMessage
from projections.partitions import ViewPartition, view_of

log = logging.getLogger("tally.projections")
CHANNEL = "tally_projections"
MAX_LOGGED_IDS = 100
DeadLetterSink = Callable[[StoredMessage, str, int], Awaitable[object]]


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    skipped: int
    dead: int  # not applied: dead-lettered, or parked behind a dead letter
    position: int
    parked: int = 0  # of `dead`, parked
    running: bool = False  # its transaction found the view not paused (one message's gate)


_CORRELATION_ID = operator.attrgetter("correlation_id")
_LOCK = "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE"
_SAVE = SAVE  # the lean transaction runs the same statement, prepared


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


def _payload(projection: Projection, position: int) -> str:
    """A notification's payload: `name:stream:position` of the checkpoint row."""
    return f"{projection.name}:{projection.stream}:{position}"


async def save_checkpoint(
    conn: Connection, projection: Projection, position: int, counted: Counted
) -> None:
    """Save the checkpoint and its counters and notify listeners (delivered at commit), in
    one round trip."""
    await conn.execute(
        _SAVE,
        projection.name,
        position,
        CHANNEL,
        _payload(projection, position),
        counted.applied,
        counted.dead,
        counted.ignored,
    )


def save_statement(projection: Projection, position: int, counted: Counted) -> str:
    """`save_checkpoint` as an EXECUTE of its prepared statement with its values written
    in, for a lean transaction (`batch_transaction.can_be_lean`: names that need no
    quoting)."""
    payload = _payload(projection, position)
    counts = counted.applied, counted.dead, counted.ignored
    return lean_save(projection.name, position, CHANNEL, payload, *counts)


async def notify_listeners(conn: Connection, projection: Projection, position: int) -> None:
    """Tell the API processes that rows of `projection` changed while its checkpoint stays
    at `position` (a dead letter retried or dropped): the notification is delivered at
    commit, and their cached answers of those rows are dropped (read_side.row_cache)."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, _payload(projection, position))


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
    expected: int | None = None,
) -> BatchOutcome:
    """The whole batch in ONE transaction together with the checkpoint: first without a
    savepoint (in one message when `expected`, the position the caller last saved, is
    still the checkpoint and the view's statements only write, else in three round trips:
    `batch_transaction`; a view's first batch, whose checkpoint row is made by it, in
    three), and if an event fails it, again with one (and one by one)."""
    try:
        try:
            return await _apply_batch(
                conn,
                projection,
                messages,
                retry,
                dead_letter,
                careful=False,
                expected=expected,
                one_message=bool(expected),  # at 0, the checkpoint row may not exist yet
            )
        except LeanRefused:  # rolled back, or never sent
            return await _apply_batch(
                conn, projection, messages, retry, dead_letter, careful=False, expected=expected
            )
    except PoisonInBatch as error:
        log.warning("batch failed, applying it again one by one", extra={"error": str(error)})
        return await _apply_batch(conn, projection, messages, retry, dead_letter, careful=True)


async def _apply_batch(
    conn: Connection,
    projection: Projection,
    messages: Sequence[StoredMessage],
    retry: Retry,
    dead_letter: DeadLetterSink,
    *,
    careful: bool,
    expected: int | None = None,
    one_message: bool = False,
) -> BatchOutcome:
    async with batch_transaction(
        conn, projection, expected, one_message=one_message
    ) as transaction:
        position = transaction.position
        if position is None:
            position = await lock_checkpoint(conn, projection)
        fresh = unseen(messages, position)
        if not fresh:
            return BatchOutcome(0, len(messages), 0, position)
        events, undecodable = await decode_guarded(fresh, retry)
        view = view_of(projection)
        done = await apply_in_order(
            transaction.conn,
            projection,
            "public",
            view,
            fresh,
            events,
            undecodable,
            retry,
            careful=careful,
            parked=transaction.position is None,  # a lean start found none
        )
        for message, error in done.dead:
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
        applied, dead = len(done.applied), done.not_applied
        passed_over = fresh[-1].seq - position - len(fresh) if partitioned(projection) else 0
        counted = Counted(applied, dead, passed_over)
        if transaction.lean:
            transaction.commit_with(save_statement(projection, fresh[-1].seq, counted))
        else:
            await save_checkpoint(conn, projection, fresh[-1].seq, counted)
        skipped = len(messages) - len(fresh)
        outcome = BatchOutcome(
            applied, skipped, dead, fresh[-1].seq, len(done.parked), running=transaction.gated
        )  # (returned only if its one message, which holds the gate, commits)
    _log_applied(projection, fresh[0].seq, outcome, done.applied)
    return outcome


def unseen(messages: Sequence[StoredMessage], position: int) -> list[StoredMessage]:
    """The messages after `position`, each once, in stream order (as a consumer delivers
    them, usually: then they are taken as they are)."""
    seqs = [message.seq for message in messages]
    if seqs and seqs[0] > position and all(map(operator.lt, seqs, seqs[1:])):
        return list(messages)
    by_seq = {message.seq: message for message in messages if message.seq > position}
    return [by_seq[seq] for seq in sorted(by_seq)]


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
    correlation_ids = list(dict.fromkeys(map(_CORRELATION_ID, events)))
    log.info(
        "batch applied",
        extra={
            "projection": projection.name,
            "seq": f"{first}-{outcome.position}",
            "applied": outcome.applied,
            "dead": outcome.dead - outcome.parked,
            "parked": outcome.parked,
            "correlation_ids": correlation_ids[:MAX_LOGGED_IDS],
            "more_correlation_ids": max(0, len(correlation_ids) - MAX_LOGGED_IDS),
        },
    )
