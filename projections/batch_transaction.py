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
"""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from projections.base import Connection, Projection
from projections.parking import TABLE
from projections.partitions import view_of

NAME = re.compile(r"[A-Za-z0-9_./-]+")


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
        f"BEGIN; SELECT FROM projection_checkpoints WHERE name = '{name}' FOR UPDATE;"
        f" SELECT FROM projection_checkpoints WHERE name = '{name}' AND position = {expected}"
        f" AND NOT EXISTS (SELECT FROM public.{TABLE} WHERE view = '{view}')"
    )


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
        if await conn.execute(_lean_start(projection, expected)) == "SELECT 1":
            transaction.position = expected
        yield transaction
        await conn.execute(transaction.ending)
    except BaseException:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        raise
