"""The dead letters as an operator works with them: listed (where each came from and why),
shown whole, retried after a fix (applied to the live view, then removed) or dropped.

`tally dlq …` and the admin HTTP API call these, so both give the same items: `seq`,
`projection`, `subject` (the aggregate), `position` (`ORDERS:42`), `type`, `attempts`,
`error`, `dead_at`, `parked` (the later events of its aggregate parked behind it, in
order: `position`, `subject`, `type`; null when the database was not asked); shown in
full, also `data` and `headers`.

A dead letter heads its aggregate's later events (`projections.parking`): a retry that
applies it applies them too, in order, in the same transaction; a drop releases them the
same way. Either stops at one that fails in turn: it becomes the new head (a dead letter
of its own), the rest stay parked behind it.
"""

from dataclasses import dataclass
from typing import Any, Literal

from nats.js import JetStreamContext

from events.partitions import Layout, partition_of
from projections.base import Connection, Projection
from projections.batch import lock_checkpoint, notify_listeners
from projections.dlq import (
    DeadLetter,
    dead_letter,
    drop_dead_letter,
    list_dead_letters,
    read_dead_letter,
)
from projections.parking import drop_head, parked_behind, release, take_head
from projections.partitions import projectors_of
from projections.registry import get_projection
from write_side.streams import read_layout

Outcome = Literal["applied", "failed", "dropped", "not-found"]


Parked = list[dict[str, Any]]


def item(letter: DeadLetter, parked: Parked | None = None) -> dict[str, Any]:
    """A dead letter as listed, with the events parked behind it when known."""
    original = letter.original
    return {
        "seq": letter.seq,
        "projection": letter.projection,
        "subject": original.subject,
        "position": f"{original.stream}:{original.seq}",
        "type": original.headers.get("Tally-Event-Type"),
        "attempts": letter.attempts,
        "error": letter.error,
        "dead_at": letter.dead_at.isoformat().replace("+00:00", "Z") if letter.dead_at else None,
        "parked": parked,
    }


def detail(letter: DeadLetter, parked: Parked | None = None) -> dict[str, Any]:
    """A dead letter in full: the listed item, the payload as text and its headers."""
    return {
        **item(letter, parked),
        "data": letter.original.data.decode("utf-8", "replace"),
        "headers": dict(letter.original.headers),
    }


def first_line(error: str, width: int = 100) -> str:
    """The error's first line, at most `width` characters (the whole is in `dlq show`)."""
    line = error.strip().splitlines()[0] if error.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


async def list_letters(
    js: JetStreamContext,
    projection: str | None = None,
    *,
    after: int = 0,
    limit: int | None = None,
) -> list[DeadLetter]:
    """In stream order; a page: those after sequence `after`, at most `limit`."""
    return await list_dead_letters(js, projection, after=after, limit=limit)


async def show_letter(js: JetStreamContext, seq: int) -> DeadLetter | None:
    return await read_dead_letter(js, seq)


async def parked_of(conn: Connection, letters: list[DeadLetter]) -> dict[int, Parked]:
    """Dead letter seq -> the events parked behind it (none: not a head)."""
    by_view: dict[str, dict[int, int]] = {}
    for letter in letters:
        by_view.setdefault(letter.projection, {})[letter.original.seq] = letter.seq
    found: dict[int, Parked] = {letter.seq: [] for letter in letters}
    for view, heads in by_view.items():
        for head, events in (await parked_behind(conn, view, list(heads))).items():
            found[heads[head]] = events
    return found


@dataclass(frozen=True)
class LetterResult:
    seq: int
    outcome: Outcome
    projection: str | None = None
    error: str | None = None  # why it still fails
    released: int = 0  # parked events applied after it
    new_head: int | None = None  # the dead letter that heads those still parked

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "outcome": self.outcome,
            "error": self.error,
            "released": self.released,
            "new_head": self.new_head,
        }


_RETRIED = """UPDATE projection_checkpoints SET applied = applied + 1, dead = dead - 1
WHERE name = $1 AND dead > 0"""


def owner_of(letter: DeadLetter, layout: Layout) -> Projection:
    """The projector (the whole view, or the partition holding the event's aggregate)
    whose checkpoint row counted the letter."""
    rows = projectors_of(get_projection(letter.projection), layout)
    if len(rows) == 1:
        return rows[0]
    token = letter.original.subject.rpartition(".")[2]
    return rows[partition_of(token, len(rows))]


async def retry_letter(
    js: JetStreamContext, conn: Connection, seq: int, layout: Layout | None = None
) -> LetterResult:
    """Apply dead letter `seq` to its live view and then the events parked behind it, in
    order, in one transaction under the checkpoint lock of the partition that holds it (no
    projector batch interleaves; the audit counters move them from dead to applied);
    removed when it applies, kept when it still fails. `layout`: the streams' partitions
    (read from the server when not given)."""
    letter = await read_dead_letter(js, seq)
    if letter is None:
        return LetterResult(seq, "not-found")
    projection = get_projection(letter.projection)
    owner = owner_of(letter, layout if layout is not None else await read_layout(js))
    try:
        event = letter.original.decode()
        async with conn.transaction():
            position = await lock_checkpoint(conn, owner)  # the partition that holds it
            await projection.apply(conn, "public", [event])
            await conn.execute(_RETRIED, owner.name)  # the audit: dead -> applied
            released, new_head = await _release(js, conn, letter, owner)
            await notify_listeners(conn, owner, position)  # the API's cached rows go
    except OSError:
        raise  # the connection, not the letter
    except Exception as error:  # the event's own failure, whatever it is, is the answer
        return LetterResult(seq, "failed", projection.name, f"{type(error).__name__}: {error}")
    await drop_dead_letter(js, seq)
    return LetterResult(seq, "applied", projection.name, None, released, new_head)


async def _release(
    js: JetStreamContext,
    conn: Connection,
    letter: DeadLetter,
    owner: Projection,
    *,
    dropped: bool = False,
) -> tuple[int, int | None]:
    """`letter` no longer heads its aggregate's parked events (applied, or `dropped`: then
    recorded, so that a replay skips it too); they are applied in order up to one that
    fails, dead-lettered as their new head. (applied, the new head's seq)"""
    view = letter.projection
    if dropped:
        aggregate = await drop_head(conn, view, letter.original)
    else:
        aggregate = await take_head(conn, view, letter.original.seq)
    if aggregate is None:
        return 0, None
    released = await release(conn, get_projection(view), owner.name, view, aggregate)
    if released.head is None:
        return released.applied, None
    new_head = await dead_letter(js, view, released.head, released.error, 1)
    return released.applied, new_head


async def drop_letter(
    js: JetStreamContext, seq: int, conn: Connection | None = None, layout: Layout | None = None
) -> LetterResult:
    """Delete dead letter `seq`; with `conn`, the events parked behind it are released
    first (applied in order up to one that fails, which becomes their head), in one
    transaction under the owning partition's checkpoint lock. The dropped event stays
    counted dead."""
    letter = await read_dead_letter(js, seq)
    if letter is None:
        return LetterResult(seq, "not-found")
    released, new_head = 0, None
    if conn is not None:
        owner = owner_of(letter, layout if layout is not None else await read_layout(js))
        async with conn.transaction():
            position = await lock_checkpoint(conn, owner)
            released, new_head = await _release(js, conn, letter, owner, dropped=True)
            if released:
                await notify_listeners(conn, owner, position)  # the API's cached rows go
    dropped = await drop_dead_letter(js, seq)
    outcome: Outcome = "dropped" if dropped else "not-found"
    return LetterResult(seq, outcome, letter.projection, None, released, new_head)
