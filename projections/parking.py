"""Sequenced dead letters: once an event of aggregate X is dead-lettered for a view, the
later events of X for that view are parked behind it, in order, and not applied, while the
other aggregates go on; a retry or a drop of that head releases them, in order.

`parked_events` (in the view's schema: `public`, or a replay's shadow) holds, per view and
aggregate, the head (the dead-lettered event, state `dead`) and the events parked behind it
(`parked`), each with its stored subject, body and headers; and the events an operator
dropped (`dropped`, in `public` only), so that a replay skips them as the live view did
instead of parking their aggregate again. Rows are written and deleted in the transaction
that moves the checkpoint (or applies a retry), under the checkpoint lock of the partition
that holds the aggregate, so they always agree with the view.

The audit counts a parked event as dead until it is released (then applied), so that
`applied + dead + ignored == position - counted_from` holds at every commit; a dropped
event stays dead.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from events.codec import DecodeError
from projections.base import Connection, Projection
from projections.guarded import is_poison_error
from projections.messages import StoredMessage

TABLE = "parked_events"
EVENT_TYPE = "Tally-Event-Type"


def aggregate_of(subject: str) -> str:
    """The aggregate's id: the subject's last token (`orders.<id>`, `orders.<p>.<id>`)."""
    return subject.rpartition(".")[2]


def parked_ddl(schema: str) -> str:
    """The table in a replay's shadow schema (public's is made by the migration)."""
    return f'CREATE TABLE "{schema}".{TABLE} (LIKE public.{TABLE} INCLUDING ALL)'


async def swap_parked(conn: Connection, schema: str, view: str) -> None:
    """A replay's swap: the rebuild's heads and parked events (in `schema`) in place of the
    live view's (the drops are kept); the shadow's table dropped."""
    await conn.execute(f"DELETE FROM public.{TABLE} WHERE view = $1 AND state <> 'dropped'", view)
    await conn.execute(f'INSERT INTO public.{TABLE} SELECT * FROM "{schema}".{TABLE}')
    await conn.execute(f'DROP TABLE "{schema}".{TABLE}')


_KNOWN = f"""SELECT aggregate, seq, state FROM "{{schema}}".{TABLE}
WHERE view = $1 AND aggregate = any($2::text[])
UNION ALL SELECT aggregate, seq, state FROM public.{TABLE}
WHERE view = $1 AND state = 'dropped' AND seq = any($3::bigint[])"""
_ANY = f"""SELECT EXISTS (SELECT FROM "{{schema}}".{TABLE} WHERE view = $1)
    OR EXISTS (SELECT FROM public.{TABLE} WHERE view = $1 AND state = 'dropped')"""
_PARK = f"""INSERT INTO "{{schema}}".{TABLE}
    (view, aggregate, seq, stream, subject, data, headers, state)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
ON CONFLICT (view, seq) DO UPDATE SET state = EXCLUDED.state"""


async def known(
    conn: Connection, schema: str, view: str, messages: Sequence[StoredMessage]
) -> tuple[set[str], set[int]]:
    """Of the aggregates of `messages`, those with a dead-lettered head for `view` (in
    `schema`); of `messages`, those an operator dropped (recorded in `public`). A view
    with neither (the common case) is told by one small query: the batch's keys and
    sequences, sent as arrays, are encoded by asyncpg value by value."""
    blocked: set[str] = set()
    dropped: set[int] = set()
    if not await conn.fetchval(_ANY.format(schema=schema), view):
        return blocked, dropped  # the common case: nothing parked, nothing dropped
    keys = sorted({aggregate_of(message.subject) for message in messages})
    seqs = [message.seq for message in messages]
    for row in await conn.fetch(_KNOWN.format(schema=schema), view, keys, seqs):
        if row["state"] == "dropped":
            dropped.add(int(row["seq"]))
        else:
            blocked.add(str(row["aggregate"]))
    return blocked, dropped & set(seqs)


async def park(
    conn: Connection, schema: str, view: str, messages: Sequence[StoredMessage], state: str
) -> None:
    """Keep `messages` for `view` in `state`: `dead` (heads), `parked` or `dropped`."""
    if messages:
        await conn.executemany(
            _PARK.format(schema=schema),
            [
                (
                    view,
                    aggregate_of(m.subject),
                    m.seq,
                    m.stream,
                    m.subject,
                    m.data,
                    json.dumps(dict(m.headers)),
                    state,
                )
                for m in messages
            ],
        )


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        row["stream"], row["seq"], row["subject"], bytes(row["data"]), json.loads(row["headers"])
    )


_TAKE_HEAD = f"""DELETE FROM public.{TABLE} WHERE view = $1 AND seq = $2 AND state = 'dead'
RETURNING aggregate"""
_DROP_HEAD = f"""UPDATE public.{TABLE} SET state = 'dropped'
WHERE view = $1 AND seq = $2 AND state = 'dead' RETURNING aggregate"""
_BEHIND = f"""SELECT seq, stream, subject, data, headers FROM public.{TABLE}
WHERE view = $1 AND aggregate = $2 AND state = 'parked' ORDER BY seq"""
_UNPARK = f"DELETE FROM public.{TABLE} WHERE view = $1 AND seq = any($2::bigint[])"
_NEW_HEAD = f"UPDATE public.{TABLE} SET state = 'dead' WHERE view = $1 AND seq = $2"
_MOVED = """UPDATE projection_checkpoints SET applied = applied + $2, dead = dead - $2
WHERE name = $1"""


@dataclass(frozen=True)
class Released:
    """What releasing an aggregate's parked events did: how many were applied, and the one
    that failed in turn (now the head, to be dead-lettered) with its error."""

    applied: int = 0
    head: StoredMessage | None = None
    error: str = ""


async def take_head(conn: Connection, view: str, seq: int) -> str | None:
    """Remove the head at stream sequence `seq` (applied by a retry); its aggregate, or
    None when `seq` heads nothing (a dead letter from before parking)."""
    aggregate: str | None = await conn.fetchval(_TAKE_HEAD, view, seq)
    return aggregate


async def drop_head(conn: Connection, view: str, message: StoredMessage) -> str | None:
    """Record the event at `message` as dropped (a replay skips it too); its aggregate
    when it headed parked events, else None."""
    aggregate: str | None = await conn.fetchval(_DROP_HEAD, view, message.seq)
    if aggregate is None:
        await park(conn, "public", view, [message], "dropped")
    return aggregate


async def release(
    conn: Connection, projection: Projection, checkpoint: str, view: str, aggregate: str
) -> Released:
    """Apply the events parked for `aggregate`, in order, until one fails: that one
    becomes the head (the caller dead-letters it), those behind it stay parked. The
    applied ones move from dead to applied on `checkpoint`'s row. Inside a transaction
    that holds that row's lock."""
    rows = [_message(row) for row in await conn.fetch(_BEHIND, view, aggregate)]
    applied: list[int] = []
    failed: tuple[StoredMessage, str] | None = None
    try:  # all at once, the common case
        async with conn.transaction():
            await projection.apply(conn, "public", [message.decode() for message in rows])
        applied = [message.seq for message in rows]
    except Exception as error:
        if not is_poison_error(error):
            raise
        for message in rows:  # one by one, in order, up to the one that fails
            try:
                event = message.decode()
            except DecodeError as undecodable:  # its reason first, as the projector says it
                failed = message, str(undecodable)
                break
            try:
                async with conn.transaction():
                    await projection.apply(conn, "public", [event])
            except Exception as again:
                if not is_poison_error(again):
                    raise
                failed = message, f"{type(again).__name__}: {again}"
                break
            applied.append(message.seq)
    await conn.execute(_UNPARK, view, applied)
    await conn.execute(_MOVED, checkpoint, len(applied))
    if failed is None:
        return Released(len(applied))
    await conn.execute(_NEW_HEAD, view, failed[0].seq)
    return Released(len(applied), *failed)


_PARKED_BEHIND = f"""SELECT h.seq AS head, p.seq, p.stream, p.subject,
    p.headers ->> '{EVENT_TYPE}' AS type
FROM public.{TABLE} h JOIN public.{TABLE} p
    ON p.view = h.view AND p.aggregate = h.aggregate AND p.state = 'parked'
WHERE h.state = 'dead' AND h.view = $1 AND h.seq = any($2::bigint[])
ORDER BY h.seq, p.seq"""


async def parked_behind(
    conn: Connection, view: str, heads: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """Head's stream sequence -> the events parked behind it, in order (position, subject,
    type), for the heads of `view` among `heads`."""
    found: dict[int, list[dict[str, Any]]] = {}
    for row in await conn.fetch(_PARKED_BEHIND, view, list(heads)):
        found.setdefault(int(row["head"]), []).append(
            {
                "position": f"{row['stream']}:{row['seq']}",
                "subject": row["subject"],
                "type": row["type"],
            }
        )
    return found
