"""The projector's lean batch transaction (`projections.batch_transaction`) on a real
PostgreSQL: three round trips when the checkpoint is where the projector last saved it and
nothing is parked; otherwise the checkpoint and the parked events are read as before, in
the same transaction, with the same outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig

from projections.batch import CHANNEL, BatchOutcome, Retry, apply_batch
from projections.batch_transaction import PREPARED
from projections.messages import StoredMessage, from_msg
from projections.registry import get_projection
from support.read_side import placed, position, publish

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


async def orders_placed(nc: NATS, count: int) -> list[StoredMessage]:
    """`count` new orders published, then read back as the projector gets them."""
    await publish(nc, [(f"orders.{uuid4()}", placed()) for _ in range(count)])
    sub = await nc.jetstream().pull_subscribe(
        "orders.>", f"lean-{uuid4().hex[:8]}", config=ConsumerConfig()
    )
    return [from_msg(msg) for msg in await sub.fetch(count, timeout=2)]


async def no_dead_letters(*args: object) -> None:
    raise AssertionError("nothing here is poison")


async def apply(conn: Any, messages: list[StoredMessage], expected: int | None) -> BatchOutcome:
    orders = get_projection("orders")
    return await apply_batch(
        conn, orders, messages, retry=Retry(), dead_letter=no_dead_letters, expected=expected
    )


async def test_a_lone_event_takes_three_round_trips_and_notifies(
    nc: NATS, db: str, conn: asyncpg.Connection
) -> None:
    first, second = await orders_placed(nc, 2)
    counting = Counting(conn)
    # makes the checkpoint row, and prepares the lean statements on the connection
    assert (await apply(counting, [first], expected=0)).position == 1
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(db)
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        counting.sent = 0
        outcome = await apply(counting, [second], expected=1)
        assert counting.sent == 3  # BEGIN + lock + check; the INSERT; save + NOTIFY + COMMIT
        assert (outcome.applied, outcome.position) == (1, 2)
        assert await asyncio.wait_for(heard.get(), 2) == "orders:ORDERS:2"
    finally:
        await listener.close()
    assert not conn.is_in_transaction()
    row = await conn.fetchrow("SELECT * FROM projection_checkpoints WHERE name = 'orders'")
    assert (row["position"], row["applied"], row["dead"], row["ignored"]) == (2, 2, 0, 0)
    assert await conn.fetchval("SELECT count(*) FROM orders") == 2


async def test_a_checkpoint_moved_by_another_writer_is_read_again(
    nc: NATS, db: str, conn: asyncpg.Connection
) -> None:
    messages = await orders_placed(nc, 3)
    await apply(conn, messages[:1], expected=0)
    await conn.execute("UPDATE projection_checkpoints SET position = 2 WHERE name = 'orders'")
    outcome = await apply(conn, messages[1:], expected=1)  # the projector thinks 1
    assert (outcome.skipped, outcome.applied, outcome.position) == (1, 1, 3)
    assert await position(db, "orders") == 3
    assert await conn.fetchval("SELECT count(*) FROM orders") == 2  # the 2nd was never applied


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
    messages = await orders_placed(nc, 5)
    counting = Counting(conn)
    await apply(counting, messages[:1], expected=0)
    assert await prepared(conn) == set(PREPARED)
    counting.sent = 0
    assert (await apply(counting, messages[1:2], expected=1)).position == 2
    assert counting.sent == 3  # nothing prepared again
    await conn.execute("DEALLOCATE tally_lean_check")  # one of them lost
    counting.sent = 0
    assert (await apply(counting, messages[2:3], expected=2)).position == 3
    # the failed start, ROLLBACK, what is held, PREPARE, the start again; INSERT; save
    assert counting.sent == 7
    await conn.execute("DISCARD ALL")  # all of them, and asyncpg's own statements
    await conn.reload_schema_state()  # (asyncpg's: its cache has to be told)
    assert await prepared(conn) == set()
    assert (await apply(counting, messages[3:4], expected=3)).position == 4
    assert await prepared(conn) == set(PREPARED)
    other = await asyncpg.connect(db)  # a new session holds none of them
    try:
        assert await prepared(other) == set()
        outcome = await apply(other, messages[4:], expected=4)
        assert (outcome.applied, outcome.position) == (1, 5)
        assert await prepared(other) == set(PREPARED)
    finally:
        await other.close()
    row = await conn.fetchrow("SELECT * FROM projection_checkpoints WHERE name = 'orders'")
    assert (row["position"], row["applied"], row["dead"]) == (5, 5, 0)
    assert await conn.fetchval("SELECT count(*) FROM orders") == 5
