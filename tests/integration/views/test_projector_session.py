"""The projector's PostgreSQL session as the settings make it: TALLY_PROJECTION_SYNCHRONOUS_COMMIT
(default off) reaches the connection the projector commits its batches on; on it, the
orders UPDATE looks orders up by key whatever the table's size when its plan was made."""

from __future__ import annotations

from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from projections.facts import Fact
from projections.orders import OrdersProjection
from projections.registry import get_projection
from projections.runner import Projector
from tally.roles.project import projector_settings
from tally.settings import load_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("environment", "expected"), [(None, "off"), ("on", "on"), ("off", "off")])
async def test_the_setting_reaches_the_projectors_session(
    nc: NATS, db: str, monkeypatch: pytest.MonkeyPatch, environment: str | None, expected: str
) -> None:
    if environment is None:
        monkeypatch.delenv("TALLY_PROJECTION_SYNCHRONOUS_COMMIT", raising=False)
    else:
        monkeypatch.setenv("TALLY_PROJECTION_SYNCHRONOUS_COMMIT", environment)
    settings = projector_settings(load_settings())
    conn = await Projector(get_projection("orders"), nc, db, settings).connect()
    try:
        assert await conn.fetchval("SHOW synchronous_commit") == expected
        # and it is the session's, not a transaction's
        async with conn.transaction():
            assert await conn.fetchval("SHOW synchronous_commit") == expected
    finally:
        await conn.close()


def _placed(seq: int, order_id: str) -> Fact:
    body = {
        "customer_id": "bob",
        "currency": "EUR",
        "total": "5.00",
        "lines": [{"sku": "sku-1", "quantity": 2, "unit_price": "2.50"}],
    }
    return Fact(seq, order_id, "OrderPlaced", body, "2026-12-01T06:00:00Z", "c")


def _confirmed(seq: int, order_id: str) -> Fact:
    return Fact(seq, order_id, "OrderConfirmed", {}, "2026-12-01T06:00:01Z", "c")


async def test_orders_are_updated_by_key_after_the_table_grew(nc: NATS, db: str) -> None:
    """The orders UPDATE's plan, kept from its first executions while the table was small,
    looks orders up by key once the table has grown (it hash-joined a batch's few orders
    with a scan of the whole table ever after)."""
    settings = projector_settings(load_settings())
    conn = await Projector(get_projection("orders"), nc, db, settings).connect()
    view = OrdersProjection()
    try:
        seq = 0
        for _ in range(8):  # past the 5 executions after which a generic plan may be kept
            ids = [str(uuid4()) for _ in range(3)]
            await view.apply(conn, "public", [_placed(seq := seq + 1, i) for i in ids])
            await view.apply(conn, "public", [_confirmed(seq := seq + 1, i) for i in ids])
        await conn.execute(
            """INSERT INTO orders (order_id, customer_id, status, currency, total, created_at,
                updated_at, version, last_seq, lines)
            SELECT gen_random_uuid(), 'grown', 'pending', 'EUR', 1, now(), now(), 1, 0, '[]'
            FROM generate_series(1, 20000)"""
        )
        ids = [str(uuid4()) for _ in range(3)]
        await view.apply(conn, "public", [_placed(seq := seq + 1, i) for i in ids])
        counts = (
            "SELECT seq_scan, idx_scan, n_tup_upd FROM pg_stat_xact_user_tables"
            " WHERE relname = 'orders'"  # this backend's, not yet flushed
        )
        async with conn.transaction():
            before = await conn.fetchrow(counts)
            await view.apply(conn, "public", [_confirmed(seq := seq + 1, i) for i in ids])
            after = await conn.fetchrow(counts)
        assert [after[k] - before[k] for k in ("seq_scan", "idx_scan", "n_tup_upd")] == [0, 3, 3]
        statuses = await conn.fetch(
            "SELECT status FROM orders WHERE order_id = any($1::uuid[])", ids
        )
        assert [row["status"] for row in statuses] == ["confirmed"] * 3
    finally:
        await conn.close()
