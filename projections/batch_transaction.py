"""A batch's transaction in three round trips instead of six (the projector's first try).

asyncpg sends one statement per round trip, and a lone event's transaction was six of
them: BEGIN, lock the checkpoint, look for parked events, the view's statement, save the
checkpoint with its NOTIFY, COMMIT; on two shared cores each is a wake-up of the projector
and of its PostgreSQL backend, and the read-your-writes latency waits for all of them.
Statements without parameters can share one message (PostgreSQL's simple query protocol
runs them in order, inside the transaction the first one opens), so the lean form is:

1. BEGIN; lock the checkpoint row; then, in a statement of its own after the lock (its
   snapshot sees whatever was committed under that lock), ask whether the row is at the
   position this projector last saved and nothing is parked or dropped for the view: the
   command tag's row count is the answer (`SELECT 1`);
2. the view's statements, as before;
3. save the checkpoint and its counters, NOTIFY, COMMIT.

A "no" (another writer moved the checkpoint, an event is parked, the row does not exist
yet) costs nothing but the answer: the caller locks and reads the checkpoint and the
parked events as before, in the same transaction. Only integers and names of the
registry's alphabet are written into the SQL (checked); anything else, and a careful
(savepointed) attempt, takes asyncpg's transaction and the parameterised statements.

The three statements are PREPAREd once per connection and sent as `EXECUTE`s in those same
messages: a simple-query statement is parsed and planned anew each time (~150 µs of the
backend's CPU per batch more than asyncpg's prepared ones). A connection that lost them (a
new session, `DISCARD ALL`, `DEALLOCATE`) prepares them again at its next batch.
"""

import re
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asyncpg.exceptions import InvalidSQLStatementNameError

from projections.base import Connection, Projection
from projections.parking import TABLE
from projections.partitions import view_of

NAME = re.compile(r"[A-Za-z0-9_./-]+")
# the checkpoint's save and its notification: $1 name, $2 position, $3 channel, $4 payload,
# $5 applied, $6 dead, $7 ignored (added to the audit counters)
SAVE = """WITH saved AS (
    UPDATE projection_checkpoints SET position = $2, updated_at = now(),
        applied = applied + $5, dead = dead + $6, ignored = ignored + $7
    WHERE name = $1
    RETURNING position)
SELECT pg_notify($3, $4) FROM saved"""
# name -> statement, prepared on each connection that runs a lean transaction
PREPARED = {
    "tally_lean_lock": "SELECT FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
    "tally_lean_check": "SELECT FROM projection_checkpoints WHERE name = $1 AND position = $2"
    f" AND NOT EXISTS (SELECT FROM public.{TABLE} WHERE view = $3)",
    "tally_lean_save": SAVE,
}
_prepared: "weakref.WeakSet[Connection]" = weakref.WeakSet()  # as far as this process knows


class BatchTransaction:
    """`position`: the checkpoint, locked, when the lean start confirmed it (None: ask);
    `lean`: the checkpoint's save goes with the COMMIT (`commit_with`)."""

    def __init__(self, *, lean: bool) -> None:
        self.position: int | None = None
        self.lean = lean
        self.ending = "COMMIT"

    def commit_with(self, statement: str) -> None:
        """`statement` (no parameters) runs just before the COMMIT, in the same message."""
        self.ending = f"{statement}; COMMIT"


def _lean_start(projection: Projection, expected: int) -> str:
    name, view = projection.name, view_of(projection)
    return (
        f"BEGIN; EXECUTE tally_lean_lock('{name}');"
        f" EXECUTE tally_lean_check('{name}', {expected}, '{view}')"
    )


def lean_save(name: str, position: int, channel: str, payload: str, *counts: int) -> str:
    """`SAVE` with these values (names of the lean alphabet, integers), as an EXECUTE."""
    applied, dead, ignored = counts
    return (
        f"EXECUTE tally_lean_save('{name}', {position}, '{channel}', '{payload}',"
        f" {applied}, {dead}, {ignored})"
    )


async def prepare(conn: Connection) -> None:
    """The lean statements prepared on `conn` (those it does not hold already)."""
    held = {
        row[0]
        for row in await conn.fetch(
            "SELECT name FROM pg_prepared_statements WHERE name = ANY($1::text[])",
            list(PREPARED),
        )
    }
    missing = [f"PREPARE {name} AS {sql}" for name, sql in PREPARED.items() if name not in held]
    if missing:
        await conn.execute(";\n".join(missing))
    _prepared.add(conn)


async def _start(conn: Connection, statement: str) -> str:
    """The lean start's command tag; the statements prepared first if `conn` is new to
    them, and again if it lost them."""
    if conn not in _prepared:
        await prepare(conn)
    try:
        return str(await conn.execute(statement))
    except InvalidSQLStatementNameError:  # deallocated (DISCARD ALL, a pool's reset)
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        _prepared.discard(conn)
        await prepare(conn)
        return str(await conn.execute(statement))


def can_be_lean(projection: Projection) -> bool:
    """Its names can be written into SQL as they are (between single quotes)."""
    names = (projection.name, projection.stream, view_of(projection))
    return all(NAME.fullmatch(name) for name in names)


@asynccontextmanager
async def batch_transaction(
    conn: Connection, projection: Projection, expected: int | None
) -> AsyncIterator[BatchTransaction]:
    """One batch's transaction: lean when `expected` (the position this projector last
    saved) is given and the names allow it, else asyncpg's."""
    if expected is None or not can_be_lean(projection):
        async with conn.transaction():
            yield BatchTransaction(lean=False)
        return
    transaction = BatchTransaction(lean=True)
    try:
        if await _start(conn, _lean_start(projection, expected)) == "SELECT 1":
            transaction.position = expected
        yield transaction
        await conn.execute(transaction.ending)
    except BaseException:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        raise
