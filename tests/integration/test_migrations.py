"""The Alembic migrations: up, down, up again, and no drift from the table definitions."""

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from read_side import queries
from read_side.tables import metadata
from tally.database_url import sqlalchemy_url
from tally.roles.database import run_alembic

pytestmark = pytest.mark.integration


async def _inspect(database_url: str) -> tuple[set[str], list[Any]]:
    def look(connection: Connection) -> tuple[set[str], list[Any]]:
        tables = set(inspect(connection).get_table_names())
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return tables, compare_metadata(context, metadata)

    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_without_drift(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # `tally migrate` finds alembic.ini from anywhere
    await run_alembic(database_url)
    tables, _ = await _inspect(database_url)
    assert set(metadata.tables) <= tables

    await run_alembic(database_url, "base", down=True)
    tables, _ = await _inspect(database_url)
    assert tables == {"alembic_version"}

    await run_alembic(database_url)
    tables, drift = await _inspect(database_url)
    assert set(metadata.tables) <= tables
    assert drift == [], f"the models and the migrations disagree: {drift}"


async def test_dropping_the_created_index_keeps_the_orders_and_their_newest_first_list(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """b3e7c1d94a26 from its previous head: the rows stay, the index goes, and the
    unfiltered list (now merged from the status index) answers as before, page by page."""
    monkeypatch.chdir(tmp_path)
    await run_alembic(database_url, "4f7b2d9c1e08")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO orders (order_id, customer_id, status, currency, total,
                created_at, updated_at, version, last_seq)
            SELECT gen_random_uuid(), 'c' || (i % 3),
                (ARRAY['pending', 'confirmed', 'rejected', 'cancelled', 'shipped'])[1 + i % 5],
                'EUR', 10, now() - (i % 7) * interval '1 minute', now(), 1, i
            FROM generate_series(1, 40) i"""
        )
        list_all = "SELECT order_id FROM orders ORDER BY created_at DESC, order_id DESC"
        before = [row[0] for row in await conn.fetch(list_all)]
        await run_alembic(database_url)
        indexes = {row[0] for row in await conn.fetch("SELECT indexname FROM pg_indexes")}
        assert "ix_orders_created" not in indexes and "ix_orders_status_created" in indexes
        assert [row[0] for row in await conn.fetch(list_all)] == before
        first = queries.list_orders_sql(status=False, customer=False, before=False)
        rest = queries.list_orders_sql(status=False, customer=False, before=True)
        pages: list[list[UUID]] = []
        cursor: tuple[Any, ...] = ()
        while True:
            rows = await conn.fetch(rest if cursor else first, 16, *cursor)
            pages.append([row["order_id"] for row in rows[:15]])
            if len(rows) <= 15:
                break
            cursor = (rows[14]["created_at"], rows[14]["order_id"])
        assert [order_id for page in pages for order_id in page] == before
        assert [len(page) for page in pages] == [15, 15, 10]
        # with enough rows for the planner to prefer an index: ranges of it, no table scan
        await conn.execute(
            """INSERT INTO orders (order_id, customer_id, status, currency, total,
                created_at, updated_at, version, last_seq, lines)
            SELECT gen_random_uuid(), 'c', (ARRAY['pending', 'confirmed'])[1 + i % 2], 'EUR',
                10, now() - i * interval '1 second', now(), 1, i, '[]'
            FROM generate_series(1, 20000) i"""
        )
        await conn.execute("ANALYZE orders")
        for sql, args in ((first, (51,)), (rest, (51, *cursor))):
            plan = "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {sql}", *args))
            assert "Merge Append" in plan and "Seq Scan" not in plan, plan
    finally:
        await conn.close()


async def test_order_lines_become_a_column_of_their_order_and_come_back_on_downgrade(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6a1d3f8e2c47 from its previous head on a view with orders: every order's lines move
    into its row in line order (an order without lines gets []), the GET body answers the
    same lines as before the upgrade, and a downgrade puts the same rows back into
    `order_lines`."""
    monkeypatch.chdir(tmp_path)
    await run_alembic(database_url, "b3e7c1d94a26")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """INSERT INTO orders (order_id, customer_id, status, currency, total,
                created_at, updated_at, version, last_seq)
            SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'c',
                'pending', 'EUR', 10, now(), now(), 1, i
            FROM generate_series(1, 30) i;
            INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price)
            SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, n,
                'sku-' || (i * 10 + (4 - n)), n, (n * i) / 4.0
            FROM generate_series(1, 29) i, generate_series(1, 1 + i % 3) n"""
        )
        lines_sql = "SELECT * FROM order_lines ORDER BY order_id, line_no"
        before_lines = [tuple(row) for row in await conn.fetch(lines_sql)]
        bodies_sql = f"SELECT {queries.ORDER_JSON.replace('o.lines', 'l.lines')} AS body"
        old_bodies = await conn.fetch(
            bodies_sql.replace(" AS body", " AS body FROM orders o, LATERAL (SELECT ")
            + """COALESCE((SELECT json_agg(json_build_object('sku', x.sku,
                'quantity', x.quantity, 'unit_price', x.unit_price::text) ORDER BY x.line_no)
                FROM order_lines x WHERE x.order_id = o.order_id), '[]'::json) AS lines) l
                ORDER BY o.order_id"""
        )
        await run_alembic(database_url)
        tables = {row[0] for row in await conn.fetch("SELECT tablename FROM pg_tables")}
        assert "order_lines" not in tables
        new_bodies = await conn.fetch(
            f"SELECT {queries.ORDER_JSON} AS body FROM orders o ORDER BY o.order_id"
        )
        assert len(new_bodies) == 30
        assert [json.loads(row["body"]) for row in new_bodies] == [
            json.loads(row["body"]) for row in old_bodies
        ]
        last = json.loads(new_bodies[-1]["body"])
        assert last["lines"] == []  # order 30 had none
        first = json.loads(new_bodies[0]["body"])["lines"]
        assert first == [
            {"sku": "sku-13", "quantity": 1, "unit_price": "0.25"},
            {"sku": "sku-12", "quantity": 2, "unit_price": "0.50"},
        ]

        await run_alembic(database_url, "b3e7c1d94a26", down=True)
        assert [tuple(row) for row in await conn.fetch(lines_sql)] == before_lines
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'"
        )
        assert "lines" not in {row[0] for row in columns}
    finally:
        await conn.close()
