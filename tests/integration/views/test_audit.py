"""`tally audit` against real NATS and PostgreSQL: the audit counters of a projected view
re-counted from JetStream agree with it; a checkpoint row broken by hand is caught, whether
its counters no longer add up to its position or add up but disagree with the stream."""

from __future__ import annotations

import io
from uuid import uuid4

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from rich.console import Console

from events.codec import encode
from events.stock import StockReceived
from support.query_app import settings_for
from support.read_side import envelope, order_history, projecting, publish, wait_position
from tally.roles.audit import run_audit

pytestmark = pytest.mark.integration


async def _audit(nats_url: str, db: str, name: str) -> tuple[bool, str]:
    output = io.StringIO()
    console = Console(file=output, width=300)
    audits, view = await run_audit(settings_for(nats_url, db), name, console, 10.0)
    return view.ok and all(row.ok for row in audits), output.getvalue()


async def test_audit_agrees_and_catches_a_broken_checkpoint(
    nc: NATS, nats_url: str, db: str
) -> None:
    await publish(nc, order_history(15))
    data, headers = encode(StockReceived(quantity=1), envelope(999))
    await nc.jetstream().publish(f"orders.{uuid4()}", data, headers=headers)  # poison
    await publish(nc, order_history(3), start=500)
    async with projecting(nc, db, "orders", "stock"):
        await wait_position(
            db, "orders", int((await nc.jetstream().stream_info("ORDERS")).state.last_seq)
        )
        await wait_position(
            db, "stock", int((await nc.jetstream().stream_info("STOCK")).state.last_seq)
        )
    for name in ("orders", "stock"):
        ok, output = await _audit(nats_url, db, name)
        assert ok and f"{name}: complete" in output, output
    assert "dead 1 " in (await _audit(nats_url, db, "orders"))[1]

    conn = await asyncpg.connect(db)
    try:
        await conn.execute(
            "UPDATE projection_checkpoints SET applied = applied - 1 WHERE name = 'orders'"
        )
        ok, output = await _audit(nats_url, db, "orders")
        assert not ok and "!=" in output and "WRONG" in output, output
        # adds up again, but says an event of the view was another's: the stream disagrees
        await conn.execute(
            "UPDATE projection_checkpoints SET ignored = ignored + 1 WHERE name = 'orders'"
        )
        ok, output = await _audit(nats_url, db, "orders")
        assert not ok and "WRONG" in output, output
        await conn.execute(
            "UPDATE projection_checkpoints SET applied = applied + 1, ignored = ignored - 1"
            " WHERE name = 'orders'"
        )
        assert (await _audit(nats_url, db, "orders"))[0]  # put right
        # the view loses an order the checkpoint says it applied
        await conn.execute(
            "DELETE FROM orders WHERE order_id = (SELECT order_id FROM orders LIMIT 1)"
        )
        ok, output = await _audit(nats_url, db, "orders")
        assert not ok and "the view's rows hold" in output and "WRONG (view)" in output, output
    finally:
        await conn.close()
