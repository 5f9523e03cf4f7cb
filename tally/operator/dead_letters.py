"""The dead letters as an operator works with them: listed (where each came from and why),
shown whole, retried after a fix (applied to the live view, then removed) or dropped.

`tally dlq …` and the admin HTTP API call these, so both give the same items: `seq`,
`projection`, `subject` (the aggregate), `position` (`ORDERS:42`), `type`, `attempts`,
`error`, `dead_at`; shown in full, also `data` and `headers`.
"""

from dataclasses import dataclass
from typing import Any, Literal

from nats.js import JetStreamContext

from events.partitions import Layout, partition_of
from projections.base import Connection, Projection
from projections.batch import lock_checkpoint
from projections.dlq import DeadLetter, drop_dead_letter, list_dead_letters, read_dead_letter
from projections.partitions import projectors_of
from projections.registry import get_projection
from write_side.streams import read_layout

Outcome = Literal["applied", "failed", "dropped", "not-found"]


def item(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as listed."""
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
    }


def detail(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter in full: the listed item, the payload as text and its headers."""
    return {
        **item(letter),
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


@dataclass(frozen=True)
class LetterResult:
    seq: int
    outcome: Outcome
    projection: str | None = None
    error: str | None = None  # why it still fails

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "outcome": self.outcome, "error": self.error}


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
    """Apply dead letter `seq` to its live view (under the checkpoint lock of the partition
    that holds it, so no projector batch interleaves; its audit counters move the event from
    dead to applied); removed when it applies, kept when it still fails. `layout`: the
    streams' partitions (read from the server when not given)."""
    letter = await read_dead_letter(js, seq)
    if letter is None:
        return LetterResult(seq, "not-found")
    projection = get_projection(letter.projection)
    owner = owner_of(letter, layout if layout is not None else await read_layout(js))
    try:
        event = letter.original.decode()
        async with conn.transaction():
            await lock_checkpoint(conn, owner)  # the partition that holds it
            await projection.apply(conn, "public", [event])
            await conn.execute(_RETRIED, owner.name)  # the audit: dead -> applied
    except OSError:
        raise  # the connection, not the letter
    except Exception as error:  # the event's own failure, whatever it is, is the answer
        return LetterResult(seq, "failed", projection.name, f"{type(error).__name__}: {error}")
    await drop_dead_letter(js, seq)
    return LetterResult(seq, "applied", projection.name)


async def drop_letter(js: JetStreamContext, seq: int) -> LetterResult:
    dropped = await drop_dead_letter(js, seq)
    return LetterResult(seq, "dropped" if dropped else "not-found")
