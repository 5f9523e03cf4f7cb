"""A batch's transaction in one round trip, or three, instead of six.

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

One message (the projector's first try, `one_message`): when the view's statements only
write (each an `execute(sql, text...)`: the views send their rows as one JSON text), they
need not go out one by one. They are kept while the batch is folded (`Deferred`) and the
whole transaction goes out as ONE simple-query message: BEGIN, the lock, a gate that fails
the message unless the checkpoint is where this projector last saved it with nothing
parked (a division by zero: a later statement of a message that failed never runs), the
view's statements as EXECUTEs of statements prepared once per connection with their texts
written in as literals, the save with its NOTIFY, COMMIT. A lone event is then one round
trip instead of three. Any error of that message rolls the whole of it back (its NOTIFY is
never delivered), and the batch is applied again in the three-message form, which reads
the checkpoint and the parked events itself and finds out whether an event is poison; so
is a batch whose statements cannot wait (a read, `executemany`: dead letters, parking).
How a text is written in: `deferred.py`.
"""

import re
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.exceptions import InvalidSQLStatementNameError

from projections.base import Connection, Projection
from projections.deferred import (
    UNPREPARABLE,
    Deferred,
    NotDeferrable,
    literal,
    literals_are_plain,
    view_statement,
)
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
# the checkpoint at the position given ($2) with nothing parked for the view ($3)
_AT = (
    "FROM projection_checkpoints WHERE name = $1 AND position = $2"
    f" AND NOT EXISTS (SELECT FROM public.{TABLE} WHERE view = $3)"
)
# name -> statement, prepared on each connection that runs a lean transaction
PREPARED = {
    "tally_lean_lock": "SELECT FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
    "tally_lean_check": f"SELECT {_AT}",
    # one message's gate: no row, a division by zero (counted when run, never folded); it
    # also fails while the view is paused (the runner's pause read, when it passes)
    "tally_lean_gate": f"SELECT 1 / count(*)::int {_AT}"
    " AND NOT EXISTS (SELECT FROM projection_pauses WHERE name = $3)",
    "tally_lean_save": SAVE,
}
VIEW_STATEMENTS = 32  # at most, prepared per connection for one-message batches
# connection -> the names of the statements it holds, as far as this process knows
_prepared: "weakref.WeakKeyDictionary[Connection, set[str]]" = weakref.WeakKeyDictionary()


class LeanRefused(Exception):
    """A one-message batch not sent, or rolled back: apply it again in three messages."""


class BatchTransaction:
    """`position`: the checkpoint, locked, when the lean start confirmed it (None: ask;
    in one message: the gate confirms it or nothing happens); `lean`: the checkpoint's
    save goes with the COMMIT (`commit_with`); `conn`: where the view's statements go;
    `gated`: one message, which commits only if its gate passes (the view not paused)."""

    def __init__(
        self, conn: Connection, *, lean: bool, position: int | None = None, gated: bool = False
    ) -> None:
        self.conn = conn
        self.position = position
        self.lean = lean
        self.gated = gated
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


async def prepare(conn: Connection, wanted: Mapping[str, str] = PREPARED) -> None:
    """The statements `wanted` (name -> SQL) prepared on `conn` (those it does not hold
    already)."""
    held = {
        row[0]
        for row in await conn.fetch(
            "SELECT name FROM pg_prepared_statements WHERE name = ANY($1::text[])",
            list(wanted),
        )
    }
    missing = [f"PREPARE {name} AS {sql}" for name, sql in wanted.items() if name not in held]
    if missing:
        await conn.execute(";\n".join(missing))
    _prepared.setdefault(conn, set()).update(wanted)


def _holds(conn: Connection, names: Mapping[str, str]) -> bool:
    return names.keys() <= _prepared.get(conn, set())


async def _start(conn: Connection, statement: str) -> str:
    """The lean start's command tag; the statements prepared first if `conn` is new to
    them, and again if it lost them."""
    if not _holds(conn, PREPARED):
        await prepare(conn)
    try:
        return str(await conn.execute(statement))
    except InvalidSQLStatementNameError:  # deallocated (DISCARD ALL, a pool's reset)
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        _prepared.pop(conn, None)
        await prepare(conn)
        return str(await conn.execute(statement))


async def _send_one(
    conn: Connection, projection: Projection, expected: int, transaction: BatchTransaction
) -> None:
    """The whole batch in one message; LeanRefused (rolled back) if any of it failed."""
    deferred: Deferred = transaction.conn
    if not deferred.statements and transaction.ending == "COMMIT":
        return  # nothing to write: nothing was sent
    wanted = PREPARED | {view_statement(sql): sql for sql, _ in deferred.statements}
    if not _holds(conn, wanted):
        if len(wanted.keys() | _prepared.get(conn, set())) > len(PREPARED) + VIEW_STATEMENTS:
            raise LeanRefused("too many view statements to prepare")
        try:
            await prepare(conn, wanted)
        except asyncpg.PostgresError as error:
            if str(getattr(error, "sqlstate", ""))[:2] == "42":  # e.g. a parameter's type
                UNPREPARABLE.update(sql for sql, _ in deferred.statements)
            raise LeanRefused(f"view statements not prepared: {error}") from error
    name, view = projection.name, view_of(projection)
    parts = [
        "BEGIN",
        f"EXECUTE tally_lean_lock('{name}')",
        f"EXECUTE tally_lean_gate('{name}', {expected}, '{view}')",
        *(
            f"EXECUTE {view_statement(sql)}({', '.join(map(literal, texts))})"
            for sql, texts in deferred.statements
        ),
        transaction.ending,
    ]
    try:
        await conn.execute(";\n".join(parts))
    except asyncpg.PostgresError as error:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        if isinstance(error, InvalidSQLStatementNameError):
            _prepared.pop(conn, None)  # deallocated: prepared again at the next batch
        raise LeanRefused(f"{type(error).__name__}: {error}") from error
    except BaseException:  # cancelled, or the connection failed: the session ends
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        raise


def can_be_lean(projection: Projection) -> bool:
    """Its names can be written into SQL as they are (between single quotes)."""
    names = (projection.name, projection.stream, view_of(projection))
    return all(NAME.fullmatch(name) for name in names)


@asynccontextmanager
async def batch_transaction(
    conn: Connection, projection: Projection, expected: int | None, *, one_message: bool = False
) -> AsyncIterator[BatchTransaction]:
    """One batch's transaction: lean when `expected` (the position this projector last
    saved) is given and the names allow it (in one message if asked and the connection
    reads literals plainly; LeanRefused when that did not happen), else asyncpg's."""
    if expected is None or not can_be_lean(projection):
        async with conn.transaction():
            yield BatchTransaction(conn, lean=False)
        return
    if one_message and literals_are_plain(conn):
        once = BatchTransaction(Deferred(), lean=True, position=expected, gated=True)
        try:
            yield once
        except NotDeferrable as error:  # nothing was sent
            raise LeanRefused(str(error)) from error
        await _send_one(conn, projection, expected, once)
        return
    transaction = BatchTransaction(conn, lean=True)
    try:
        if await _start(conn, _lean_start(projection, expected)) == "SELECT 1":
            transaction.position = expected
        yield transaction
        await conn.execute(transaction.ending)
    except BaseException:
        if conn.is_in_transaction():
            await conn.execute("ROLLBACK")
        raise
