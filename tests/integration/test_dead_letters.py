"""`tally dlq`: listing, retrying a dead letter after a fix, dropping; `tally status`."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS
from rich.console import Console

from projections.dlq import dead_letter, ensure_dlq_stream, list_dead_letters
from projections.messages import StoredMessage
from support.query_app import settings_for
from support.read_side import connect, placed, publish, ready_streams, rows
from tally.roles.database import run_alembic
from tally.roles.status import dlq_drop, dlq_list, dlq_retry, run_status

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await connect(nats_url)
    await ready_streams(client)
    await ensure_dlq_stream(client.jetstream())
    try:
        yield client
    finally:
        await client.close()


async def _dead_letter_order(nc: NATS, customer: str) -> int:
    """An OrderPlaced dead-lettered as if a bug (since fixed) had refused it."""
    seq = await publish(nc, [(f"orders.{uuid4()}", placed(customer))])
    raw = await nc.jetstream().get_msg("ORDERS", seq)
    message = StoredMessage(
        "ORDERS", seq, raw.subject or "", raw.data or b"", dict(raw.headers or {})
    )
    return await dead_letter(nc.jetstream(), "orders", message, "a bug, since fixed", 5)


async def test_list_retry_drop_and_status(nc: NATS, nats_url: str, database_url: str) -> None:
    await run_alembic(database_url)
    settings = settings_for(nats_url, database_url)
    first = await _dead_letter_order(nc, "fixed")
    second = await _dead_letter_order(nc, "dropped")
    output = io.StringIO()
    console = Console(file=output, width=200)

    await dlq_list(settings, console)
    assert "a bug, since fixed" in output.getvalue() and "OrderPlaced" in output.getvalue()
    status = io.StringIO()
    await run_status(settings, Console(file=status, width=200))
    assert "│ orders     │ 2 " in status.getvalue(), status.getvalue()

    assert await dlq_retry(settings, [first], False, console) == 1
    assert [row[1] for row in await rows(database_url, "orders", "order_id")] == ["fixed"]
    assert [letter.seq for letter in await list_dead_letters(nc.jetstream())] == [second]

    assert await dlq_drop(settings, [], True) == 1
    assert await list_dead_letters(nc.jetstream()) == []
