"""The views' checkpoints when their stream changes its partitions (write_side.repartition
calls `settle_views` while appends are refused and the old stream is still there).

A checkpoint says which events a view holds, so it must say the same after the change:
- from one partition, the view holds every event up to its position C: each new partition
  row starts at C (its consumer then delivers that partition's events after C);
- from several partitions, each held its own events up to its own position, which the new
  partitions cannot express unless every old partition has reached the stream's end; so
  this waits (the running projectors catch up: nothing is appended meanwhile) and then
  starts every new row at the end. A view that does not catch up in time stops the
  migration before anything changed.
Nothing is applied twice and nothing is skipped; the old rows are replaced in one
transaction.
"""

import asyncio
import logging

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.partitions import Layout
from events.subjects import SUBJECT_PREFIX
from projections.base import Projection
from projections.partitions import projectors_of, stream_partitions
from projections.registry import PROJECTIONS

log = logging.getLogger("tally.migrate")


# the audit counters of a moved row count from where it was moved to
_REPLACE = """INSERT INTO projection_checkpoints (name, stream, position, counted_from)
VALUES ($1, $2, $3, $3)
ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, state = 'live',
    applied = 0, dead = 0, ignored = 0, counted_from = EXCLUDED.position"""


class ViewsBehind(Exception):
    """A partitioned view did not reach the stream's end in time."""


async def _positions(
    conn: asyncpg.Connection, rows: list[Projection], *, lock: bool = False
) -> dict[str, int]:
    found = await conn.fetch(
        "SELECT name, position FROM projection_checkpoints WHERE name = any($1::text[])"
        + (" ORDER BY name FOR UPDATE" if lock else ""),
        [row.name for row in rows],
    )
    return {record["name"]: int(record["position"]) for record in found}


async def _heads(js: JetStreamContext, stream: str, count: int) -> list[int]:
    """The last sequence of each partition of `stream` (0 for one that holds nothing)."""
    heads = []
    for partition in range(count):
        try:
            last = await js.get_last_msg(stream, f"{SUBJECT_PREFIX[stream]}.{partition}.*")
            heads.append(int(last.seq or 0))
        except NotFoundError:
            heads.append(0)
    return heads


async def _wait_caught_up(
    conn: asyncpg.Connection, js: JetStreamContext, rows: list[Projection], wait: float
) -> None:
    """Until every old partition row has reached its partition's last event (the running
    projectors commit meanwhile: nothing is locked here)."""
    heads = await _heads(js, rows[0].stream, len(rows))
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        positions = await _positions(conn, rows)
        behind = [
            row.name
            for row, head in zip(rows, heads, strict=True)
            if positions.get(row.name, 0) < head
        ]
        if not behind:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise ViewsBehind(
                f"{', '.join(behind)} did not reach the end of {rows[0].stream} within"
                f" {wait:.0f} s; run the projectors and migrate again (nothing was changed)"
            )
        await asyncio.sleep(0.2)


async def settle_views(
    dsn: str, js: JetStreamContext, stream: str, new: int, last: int, *, wait: float = 120.0
) -> None:
    """Replace the checkpoint rows of every view of `stream` (whose last event is `last`,
    appends refused) for `new` partitions."""
    old = await stream_partitions(js, stream)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        for view in (p for p in PROJECTIONS.values() if p.stream == stream):
            before = projectors_of(view, Layout({stream: old}))
            after = projectors_of(view, Layout({stream: new}))
            if old > 1:
                await _wait_caught_up(conn, js, before, wait)
            async with conn.transaction():
                # locked: a projector still running commits nothing more meanwhile
                held = await _positions(conn, before, lock=True)
                start = held.get(view.name, 0) if old <= 1 else last
                await conn.execute(
                    "DELETE FROM projection_checkpoints WHERE name = any($1::text[])",
                    [row.name for row in before],
                )
                await conn.executemany(_REPLACE, [(row.name, stream, start) for row in after])
            log.info(
                "checkpoints moved",
                extra={"view": view.name, "partitions": new, "position": start},
            )
    finally:
        await conn.close()
