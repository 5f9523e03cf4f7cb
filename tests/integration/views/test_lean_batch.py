"""The projector's lean batch transaction (`projections.batch_transaction`) on a real
PostgreSQL: one message when the checkpoint is where the projector last saved it, nothing
is parked and the view's statements only write; three round trips when the one message
cannot be sent or failed; otherwise the checkpoint and the parked events are read as
before, in the same transaction, with the same outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig

from projections.base import Connection, Projection
from projections.batch import CHANNEL, BatchOutcome, Retry, apply_batch
from projections.batch_transaction import PREPARED
from projections.facts import Fact
from projections.messages import StoredMessage, from_msg
from projections.registry import get_projection
from support.read_side import placed, position, publish
from support.wrapped_projection import WrappedProjection

pytestmark = pytest.mark.integration


class Counting:
    """An asyncpg connection that counts the statements (messages) sent through it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn, self.sent = conn, 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.conn, name)
        if name not in ("execute", "fetch", "fetchval", "fetchrow", "executemany"):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return await method(*args, **kwargs)

        return counted


@pytest.fixture
async def conn(db: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db)
    try:
        yield connection
    finally:
        await connection.close()


async def orders_placed(nc: NATS, count: int, customer: str = "alice") -> list[StoredMessage]:
    """`count` new orders published, then read back as the projector gets them."""
    await publish(nc, [(f"orders.{uuid4()}", placed(customer)) for _ in range(count)])
    sub = await nc.jetstream().pull_subscribe(
        "orders.>", f"lean-{uuid4().hex[:8]}", config=ConsumerConfig()
    )
    return [from_msg(msg) for msg in await sub.fetch(count, timeout=2)]


async def no_dead_letters(*args: object) -> None:
    raise AssertionError("nothing here is poison")


async def apply(
    conn: Any,
    messages: list[StoredMessage],
    expected: int | None,
    projection: Projection | None = None,
    dead_letter: Any = no_dead_letters,
) -> BatchOutcome:
    orders = projection or get_projection("orders")
    return await apply_batch(
        conn, orders, messages, retry=Retry(attempts=1), dead_letter=dead_letter, expected=expected
    )


async def test_a_lone_event_is_one_message_and_notifies(
    nc: NATS, db: str, conn: asyncpg.Connection
) -> None:
    first, second, third = await orders_placed(nc, 3)
    counting = Counting(conn)
    # the first makes the checkpoint row (in three messages) and prepares the lean
    # statements on the connection, the second the view's statement (in one)
    assert (await apply(counting, [first], expected=0)).position == 1
    assert (await apply(counting, [second], expected=1)).position == 2
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(db)
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        counting.sent = 0
        outcome = await apply(counting, [third], expected=2)
        assert counting.sent == 1  # BEGIN, lock, gate, the INSERT, save + NOTIFY, COMMIT
        assert (outcome.applied, outcome.position) == (1, 3)
        assert await asyncio.wait_for(heard.get(), 2) == "orders:ORDERS:3"
    finally:
        await listener.close()
    assert not conn.is_in_transaction()
    row = await conn.fetchrow("SELECT * FROM projection_checkpoints WHERE name = 'orders'")
    assert (row["position"], row["applied"], row["dead"], row["ignored"]) == (3, 3, 0, 0)
    assert await conn.fetchval("SELECT count(*) FROM orders") == 3


async def test_a_checkpoint_moved_by_another_writer_is_read_again(
    nc: NATS, db: str, conn: asyncpg.Connection
) -> None:
    """The one message's gate fails it (nothing of it stays, its NOTIFY never goes out);
    the three-message form reads the checkpoint and applies what it does not cover."""
    messages = await orders_placed(nc, 4)
    counting = Counting(conn)
    await apply(counting, messages[:1], expected=0)
    await apply(counting, messages[1:2], expected=1)
    await conn.execute("UPDATE projection_checkpoints SET position = 3 WHERE name = 'orders'")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(db)
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        counting.sent = 0
        outcome = await apply(counting, messages[2:], expected=2)  # the projector thinks 2
        # the failed message, ROLLBACK; BEGIN + lock + check, the checkpoint read, the
        # parked read, the INSERT, save + NOTIFY + COMMIT
        assert counting.sent == 7
        assert (outcome.skipped, outcome.applied, outcome.position) == (1, 1, 4)
        assert await asyncio.wait_for(heard.get(), 2) == "orders:ORDERS:4"
        await asyncio.sleep(0.1)
        assert heard.empty()
    finally:
        await listener.close()
    assert await position(db, "orders") == 4
    assert await conn.fetchval("SELECT count(*) FROM orders") == 3  # the 3rd was never applied
    assert not conn.is_in_transaction()


async def test_texts_are_written_into_the_message_as_they_are(
    nc: NATS, conn: asyncpg.Connection
) -> None:
    """Quotes, backslashes and escapes in a view's JSON text reach the row unchanged in
    one message; with `standard_conforming_strings` off (a backslash would escape) the
    batch goes in three messages, with the same row."""
    awkward = "O'Brien \\ \\' '' \\n\" E'x' $$ \u00e9 ;-- é"
    messages = await orders_placed(nc, 4, customer=awkward)
    counting = Counting(conn)
    await apply(counting, messages[:1], expected=0)
    await apply(counting, messages[1:2], expected=1)
    counting.sent = 0
    assert (await apply(counting, messages[2:3], expected=2)).position == 3
    assert counting.sent == 1
    await conn.execute("SET standard_conforming_strings = off")
    counting.sent = 0
    assert (await apply(counting, messages[3:], expected=3)).position == 4
    assert counting.sent == 3
    customers = await conn.fetch("SELECT DISTINCT customer_id FROM orders")
    assert [row["customer_id"] for row in customers] == [awkward]


async def test_the_one_message_finds_the_view_running_or_fails_on_a_pause(
    nc: NATS, conn: asyncpg.Connection
) -> None:
    """The gate also reads the pause: a batch taken as its view was paused goes in three
    messages and does not say the view runs (the projector reads the pause itself before
    the next batch); a batch in one message stands for that read (`running`)."""
    messages = await orders_placed(nc, 4)
    counting = Counting(conn)
    assert not (await apply(counting, messages[:1], expected=0)).running  # three messages
    assert (await apply(counting, messages[1:2], expected=1)).running
    await conn.execute("INSERT INTO projection_pauses (name) VALUES ('orders')")
    counting.sent = 0
    outcome = await apply(counting, messages[2:3], expected=2)
    assert (outcome.applied, outcome.position, outcome.running) == (1, 3, False)
    assert counting.sent == 5  # the failed message, ROLLBACK; start, INSERT, save
    await conn.execute("DELETE FROM projection_pauses")
    counting.sent = 0
    outcome = await apply(counting, messages[3:], expected=3)
    assert (outcome.applied, outcome.position, outcome.running) == (1, 4, True)
    assert counting.sent == 1


class FailingInTheDatabase(WrappedProjection):
    """Its statement fails when PostgreSQL runs it (not when Python writes it): poison."""

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        await self.real.apply(conn, schema, facts)
        await conn.execute("SELECT 1 / $1::int", "0")


async def test_a_statement_failing_in_the_message_is_found_poison_without_it(
    nc: NATS, db: str, conn: asyncpg.Connection
) -> None:
    """The one message fails and is rolled back (its NOTIFY never goes out); the batch
    is applied again in three messages, whose failure finds the poison and dead-letters
    it as before."""
    messages = await orders_placed(nc, 2)
    await apply(conn, messages[:1], expected=0)
    dead: list[int] = []

    async def dead_letter(message: StoredMessage, error: str, attempts: int) -> None:
        dead.append(message.seq)

    failing = FailingInTheDatabase(get_projection("orders"))
    outcome = await apply(conn, messages[1:], 1, failing, dead_letter)
    assert (outcome.applied, outcome.dead, outcome.position) == (0, 1, 2)
    assert dead == [2]
    assert not conn.is_in_transaction()
    assert await position(db, "orders") == 2
    assert await conn.fetchval("SELECT count(*) FROM orders") == 1


async def test_an_aggregate_with_a_dead_letter_is_parked_behind_it(
    nc: NATS, conn: asyncpg.Connection
) -> None:
    first, second = await orders_placed(nc, 2)
    await apply(conn, [first], expected=0)
    head = second.subject.rpartition(".")[2]  # as if an earlier event of it were dead
    await conn.execute(
        "INSERT INTO parked_events (view, aggregate, seq, stream, subject, data, headers, state)"
        " VALUES ('orders', $1, 0, 'ORDERS', $2, '\\x'::bytea, '{}'::jsonb, 'dead')",
        head,
        second.subject,
    )
    outcome = await apply(conn, [second], expected=1)
    assert (outcome.applied, outcome.dead, outcome.parked, outcome.position) == (0, 1, 1, 2)
    states = await conn.fetch("SELECT seq, state FROM parked_events ORDER BY seq")
    assert [(r["seq"], r["state"]) for r in states] == [(0, "dead"), (2, "parked")]


async def prepared(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT name FROM pg_prepared_statements")
    return {row["name"] for row in rows} & set(PREPARED)


async def test_the_statements_are_prepared_once_and_again_when_lost(
    nc: NATS, db: str, conn: asyncpg.Connection
) -> None:
    """A lean batch EXECUTEs statements prepared once per connection; a connection that
    lost them (a new one, DEALLOCATE, DISCARD ALL) prepares them again at its next batch,
    still lean (the position confirmed without a second lock)."""
    messages = await orders_placed(nc, 7)
    counting = Counting(conn)
    await apply(counting, messages[:1], expected=0)
    assert await prepared(conn) == set(PREPARED)
    counting.sent = 0
    assert (await apply(counting, messages[1:2], expected=1)).position == 2
    assert counting.sent == 3  # what is held, PREPARE the view's statement, one message
    counting.sent = 0
    assert (await apply(counting, messages[2:3], expected=2)).position == 3
    assert counting.sent == 1  # nothing prepared again
    await conn.execute("DEALLOCATE tally_lean_gate")  # one of them lost
    counting.sent = 0
    assert (await apply(counting, messages[3:4], expected=3)).position == 4
    # the failed message, ROLLBACK; what is held, PREPARE, the start; INSERT; save
    assert counting.sent == 7
    counting.sent = 0
    assert (await apply(counting, messages[4:5], expected=4)).position == 5
    assert counting.sent == 2  # what is held (the view's statement is), one message
    await conn.execute("DISCARD ALL")  # all of them, and asyncpg's own statements
    await conn.reload_schema_state()  # (asyncpg's: its cache has to be told)
    assert await prepared(conn) == set()
    assert (await apply(counting, messages[5:6], expected=5)).position == 6
    assert await prepared(conn) == set(PREPARED)
    other = await asyncpg.connect(db)  # a new session holds none of them
    try:
        assert await prepared(other) == set()
        outcome = await apply(other, messages[6:], expected=6)
        assert (outcome.applied, outcome.position) == (1, 7)
        assert await prepared(other) == set(PREPARED)
    finally:
        await other.close()
    row = await conn.fetchrow("SELECT * FROM projection_checkpoints WHERE name = 'orders'")
    assert (row["position"], row["applied"], row["dead"]) == (7, 7, 0)
    assert await conn.fetchval("SELECT count(*) FROM orders") == 7
