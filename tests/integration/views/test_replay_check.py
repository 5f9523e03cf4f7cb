"""Verified replay against real NATS and PostgreSQL: the rebuild is compared with the live
view row by row in PostgreSQL at the live view's position; a check only compares (the live
view and its checkpoints untouched), `expect_equal` refuses a swap on a difference, a plain
replay swaps and says what it changed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from projections.registry import get_projection
from projections.replay import Replay, ReplayDiffers, ReplayNotComparable
from projections.replay_check import Comparison
from support.read_side import order_history, projecting, publish, view_rows, wait_position

pytestmark = pytest.mark.integration


async def _last(nc: NATS, stream: str) -> int:
    return int((await nc.jetstream().stream_info(stream)).state.last_seq)


async def _execute(db: str, *statements: str) -> list[Any]:
    conn = await asyncpg.connect(db)
    try:
        return [await conn.fetch(statement) for statement in statements]
    finally:
        await conn.close()


async def _checkpoints(db: str) -> dict[str, tuple[int, str]]:
    (found,) = await _execute(db, "SELECT name, position, state FROM projection_checkpoints")
    return {row["name"]: (row["position"], row["state"]) for row in found}


def _counts(comparison: Comparison | None) -> dict[str, tuple[int, int, int, int]]:
    assert comparison is not None
    return {t.table: (t.equal, t.differing, t.only_live, t.only_rebuilt) for t in comparison.tables}


async def _caught_up(nc: NATS, db: str) -> None:
    await wait_position(db, "orders", await _last(nc, "ORDERS"))
    await wait_position(db, "stock", await _last(nc, "STOCK"))


async def test_check_of_an_equal_view_compares_and_drops_the_rebuild(nc: NATS, db: str) -> None:
    await publish(nc, order_history(20))
    async with projecting(nc, db, "orders", "stock"):
        await _caught_up(nc, db)
        live, marks = await view_rows(db), await _checkpoints(db)
        result = await Replay(get_projection("orders"), nc, db, batch_size=8, check=True).run()
        assert not result.swapped and result.comparison is not None
        assert result.comparison.identical, result.comparison.describe()
        assert _counts(result.comparison) == {"orders": (20, 0, 0, 0)}
        assert await view_rows(db) == live and await _checkpoints(db) == marks
    (schemas,) = await _execute(db, "SELECT 1 FROM pg_namespace WHERE nspname LIKE 'replay_%'")
    assert schemas == []


async def test_a_tampered_view_is_found_refused_and_then_repaired(nc: NATS, db: str) -> None:
    await publish(nc, order_history(12))
    async with projecting(nc, db, "orders", "stock"):
        await _caught_up(nc, db)
        (victims,) = await _execute(db, "SELECT order_id FROM orders ORDER BY order_id LIMIT 2")
        changed, deleted = victims[0]["order_id"], victims[1]["order_id"]
        await _execute(
            db,
            f"UPDATE orders SET status = 'shipped', lines = '[]' WHERE order_id = '{changed}'",
            f"DELETE FROM orders WHERE order_id = '{deleted}'",
            "INSERT INTO stock_items VALUES ('ghost', 1, 0, 1, now(), 1)",
        )
        tampered = await view_rows(db)

        orders = await Replay(get_projection("orders"), nc, db, check=True).run()
        assert _counts(orders.comparison) == {"orders": (10, 1, 0, 1)}
        assert orders.comparison is not None
        found = {
            (d.table, d.key, d.column): (d.live, d.rebuilt) for d in orders.comparison.differences
        }
        assert found[("orders", str(changed), "status")][0] == "shipped"
        assert found[("orders", str(deleted), "*")][0] is None
        live_lines, rebuilt_lines = found[("orders", str(changed), "lines")]
        assert live_lines == "[]" and json.loads(rebuilt_lines or "")[0]["quantity"] >= 1
        stock = await Replay(get_projection("stock"), nc, db, check=True).run()
        assert _counts(stock.comparison)["stock_items"][2:] == (1, 0)  # the ghost: live only
        assert await view_rows(db) == tampered  # a check changes nothing

        with pytest.raises(ReplayDiffers) as refused:
            await Replay(get_projection("orders"), nc, db, expect_equal=True).run()
        assert not refused.value.comparison.identical
        assert await view_rows(db) == tampered

        repaired = await Replay(get_projection("orders"), nc, db).run()
        assert repaired.swapped and repaired.comparison is not None
        assert not repaired.comparison.identical  # what the swap changed
        again = await Replay(get_projection("orders"), nc, db, check=True).run()
        assert again.comparison is not None and again.comparison.identical


async def test_check_under_appends_compares_at_the_live_position(nc: NATS, db: str) -> None:
    """Events keep arriving while the check runs: the rebuild is brought to exactly what
    the live view holds when the projector is held, and equals it."""
    await publish(nc, order_history(30))
    async with projecting(nc, db, "orders"):
        await wait_position(db, "orders", await _last(nc, "ORDERS"))

        async def append() -> None:
            for round_ in range(1, 30):
                await publish(nc, order_history(2), start=1000 * round_)
                await asyncio.sleep(0.02)

        appending = asyncio.create_task(append())
        result = await Replay(get_projection("orders"), nc, db, batch_size=5, check=True).run()
        await appending
    assert result.comparison is not None and result.comparison.identical, result.comparison


async def test_a_lagging_live_view_is_not_compared(nc: NATS, db: str) -> None:
    await publish(nc, order_history(5))  # no projector runs: the live view stands at 0
    with pytest.raises(ReplayNotComparable):
        await Replay(get_projection("orders"), nc, db, check=True, settle=0.5).run()
    result = await Replay(get_projection("orders"), nc, db).run()  # a plain one swaps
    assert result.swapped and result.comparison is None and "behind" in result.uncompared
    assert len((await view_rows(db))["orders"]) == 5
