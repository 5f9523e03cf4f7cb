"""A batch applied in each aggregate's order: an event of an aggregate that has a
dead-lettered event before it (in an earlier batch, or earlier in this one) is parked, not
applied; everything else is applied set-based (one by one under savepoints when that fails
because of an event, each retried with backoff). See `projections.parking`.

`careful=False` (the live projector's first attempt) applies the batch without a savepoint
(two round trips fewer per batch, a third of a lone event's): an event that fails it
raises `PoisonInBatch`, and the caller rolls the batch back and applies it again carefully."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from projections.base import Connection, Projection
from projections.facts import Fact
from projections.guarded import Retry, is_poison_error
from projections.messages import StoredMessage
from projections.parking import aggregate_of, known, park

log = logging.getLogger("tally.projections")


class PoisonInBatch(Exception):
    """An event failed a batch applied without a savepoint: the transaction is lost, the
    caller applies the batch again with `careful=True`."""


@dataclass
class Sorted:
    """A batch sorted out: applied, dead-lettered (each a new head), parked, and dropped
    by an operator before (met again by a replay: skipped, still dead)."""

    applied: list[Fact] = field(default_factory=list)
    dead: list[tuple[StoredMessage, str]] = field(default_factory=list)
    parked: list[StoredMessage] = field(default_factory=list)
    dropped: list[StoredMessage] = field(default_factory=list)

    @property
    def not_applied(self) -> int:
        """What the audit counts dead."""
        return len(self.dead) + len(self.parked) + len(self.dropped)


async def apply_in_order(
    conn: Connection,
    projection: Projection,
    schema: str,
    view: str,
    messages: Sequence[StoredMessage],
    events: Sequence[Fact],
    undecodable: Sequence[tuple[StoredMessage, str]],
    retry: Retry,
    *,
    careful: bool = True,
    parked: bool = True,
) -> Sorted:
    """Apply `messages` (in stream order, decoded into `events`, or `undecodable`) to the
    tables in `schema`, keeping each aggregate's order; the heads and the parked events are
    written to `schema`'s parking table. The caller dead-letters `dead`. `parked=False`:
    the caller found nothing parked or dropped for the view under the checkpoint's lock."""
    stopped, dropped = await known(conn, schema, view, messages) if parked else (set(), set())
    done = Sorted()
    if stopped or dropped or undecodable:
        todo = _sort_out(messages, events, undecodable, stopped, dropped, done)
    else:  # the common case: every message decoded, nothing parked or dropped
        todo = list(events)
    if todo and not careful:
        try:
            await projection.apply(conn, schema, todo)
        except Exception as error:
            if is_poison_error(error):
                raise PoisonInBatch(f"{type(error).__name__}: {error}") from error
            raise
        done.applied = todo
    elif todo:
        try:
            async with conn.transaction():
                await projection.apply(conn, schema, todo)
            done.applied = todo
        except Exception as error:
            if not is_poison_error(error):
                raise
            log.warning("batch failed, applying one by one", extra={"error": str(error)})
            by_seq = {message.seq: message for message in messages}
            await _one_by_one(conn, projection, schema, todo, by_seq, stopped, retry, done)
    await park(conn, schema, view, [message for message, _ in done.dead], "dead")
    await park(conn, schema, view, done.parked, "parked")
    return done


def _sort_out(
    messages: Sequence[StoredMessage],
    events: Sequence[Fact],
    undecodable: Sequence[tuple[StoredMessage, str]],
    stopped: set[str],
    dropped: set[int],
    done: Sorted,
) -> list[Fact]:
    """The facts to apply, in stream order; the others sorted into `done` (`stopped` grows
    by the aggregates of new heads)."""
    bad = {message.seq: error for message, error in undecodable}
    facts = {event.seq: event for event in events}
    todo: list[Fact] = []
    for message in messages:
        key = aggregate_of(message.subject)
        if message.seq in dropped:
            done.dropped.append(message)
        elif key in stopped:
            done.parked.append(message)
        elif message.seq in bad:
            done.dead.append((message, bad[message.seq]))
            stopped.add(key)
        else:
            todo.append(facts[message.seq])
    return todo


async def _one_by_one(
    conn: Connection,
    projection: Projection,
    schema: str,
    todo: Sequence[Fact],
    by_seq: dict[int, StoredMessage],
    stopped: set[str],
    retry: Retry,
    done: Sorted,
) -> None:
    for event in todo:
        message = by_seq[event.seq]
        key = aggregate_of(message.subject)
        if key in stopped:  # behind one that failed in this batch
            done.parked.append(message)
            continue
        for attempt in range(1, retry.attempts + 1):
            try:
                async with conn.transaction():
                    await projection.apply(conn, schema, [event])
                done.applied.append(event)
                break
            except Exception as error:
                if not is_poison_error(error):
                    raise
                if attempt == retry.attempts:
                    done.dead.append((message, f"{type(error).__name__}: {error}"))
                    stopped.add(key)
                else:
                    await retry.pause(attempt)
    done.parked.sort(key=lambda message: message.seq)
    done.dead.sort(key=lambda item: item[0].seq)
