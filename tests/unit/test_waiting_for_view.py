"""Read-your-writes decisions (`WaitForView.read`) and the query routes' SQL and pages,
without a database: which read answers, and never an answer from a snapshot behind the
position asked for."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from events.subjects import Position
from read_side import queries
from read_side.cursors import parse_order_cursor, parse_stock_cursor
from read_side.errors import PositionOfAnotherStream, ProjectionLagging
from read_side.positions import CHANNEL, ProjectionPositions
from read_side.read_your_writes import WaitForView
from read_side.views import ViewReader


class View:
    """A view whose checkpoint moves when told; `checked` reads both in one go."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.plain_reads = 0
        self.checked_reads = 0

    async def plain(self) -> str:
        self.plain_reads += 1
        return f"row@{self.position}"

    async def checked(self, name: str) -> tuple[int, str]:
        assert name == "orders"
        self.checked_reads += 1
        return self.position, f"row@{self.position}"


def waiting() -> tuple[WaitForView, ProjectionPositions]:
    positions = ProjectionPositions("postgresql://unused/none")  # never started: no LISTEN
    views = ViewReader.open("postgresql://unused/none", size=1, timeout=1)  # never asked
    return WaitForView(positions, views, {"orders": "ORDERS"}), positions


async def test_without_after_or_once_known_the_plain_read_answers() -> None:
    rw, positions = waiting()
    view = View(7)
    assert await rw.read("orders", None, 1, view.plain, view.checked) == "row@7"
    positions.confirm("orders", 7)
    assert await rw.read("orders", Position("ORDERS", 7), 1, view.plain, view.checked) == "row@7"
    assert (view.plain_reads, view.checked_reads) == (2, 0)


async def test_an_unknown_position_is_answered_by_the_checked_read_that_shows_it() -> None:
    rw, positions = waiting()
    view = View(9)
    answer = await rw.read("orders", Position("ORDERS", 8), 1, view.plain, view.checked)
    assert answer == "row@9" and (view.plain_reads, view.checked_reads) == (0, 1)
    assert positions.known("orders") == 9  # learnt from the checkpoint read


async def test_a_snapshot_behind_the_position_is_never_the_answer() -> None:
    rw, _ = waiting()
    view = View(3)
    with pytest.raises(ProjectionLagging):
        await rw.read("orders", Position("ORDERS", 4), 0.05, view.plain, view.checked)
    assert view.plain_reads == 0 and view.checked_reads == 2  # at once, and at the deadline


async def test_applied_meanwhile_by_another_read_answers_from_a_later_snapshot() -> None:
    rw, positions = waiting()
    view = View(3)

    async def behind_then_known(name: str) -> tuple[int, str]:
        answer = await view.checked(name)  # this snapshot: 3
        view.position = 4  # the projector commits 4, and another request's read sees it
        positions.confirm(name, 4)
        return answer

    answer = await rw.read("orders", Position("ORDERS", 4), 1, view.plain, behind_then_known)
    assert answer == "row@4" and view.plain_reads == 1  # not the stale snapshot's row


def hint(positions: ProjectionPositions, payload: str) -> None:
    """A notification as the LISTEN connection delivers it."""
    positions._on_notify(None, 0, CHANNEL, payload)


async def test_listening_a_whole_view_reads_once_after_the_commits_hint() -> None:
    rw, positions = waiting()
    positions.listening = True
    view = View(3)
    asking = asyncio.create_task(
        rw.read("orders", Position("ORDERS", 4), 1, view.plain, view.checked)
    )
    await asyncio.sleep(0.01)
    assert view.checked_reads == 0  # no read before the projector says it committed 4
    view.position = 4
    hint(positions, "orders:ORDERS:4")
    assert await asyncio.wait_for(asking, 1) == "row@4"
    assert (view.plain_reads, view.checked_reads) == (0, 1)


async def test_a_hint_that_came_before_the_request_is_read_at_once() -> None:
    rw, positions = waiting()
    positions.listening = True
    view = View(5)
    hint(positions, "orders:ORDERS:5")  # the commit's hint, before the GET came in
    answer = await asyncio.wait_for(
        rw.read("orders", Position("ORDERS", 5), 1, view.plain, view.checked), 1
    )
    assert answer == "row@5" and view.checked_reads == 1


async def test_a_hint_is_no_fact_and_the_time_limit_still_reads() -> None:
    rw, positions = waiting()
    positions.listening = True
    view = View(3)
    asking = asyncio.create_task(
        rw.read("orders", Position("ORDERS", 4), 0.2, view.plain, view.checked)
    )
    await asyncio.sleep(0.01)
    hint(positions, "orders:ORDERS:99")  # forged: the checkpoint row says 3
    await asyncio.sleep(0.01)
    assert view.checked_reads == 1 and not asking.done()
    with pytest.raises(ProjectionLagging):
        await asyncio.wait_for(asking, 1)
    assert view.checked_reads == 2 and positions.known("orders") == 3  # and at the deadline


async def test_not_listening_the_first_read_is_at_once() -> None:
    rw, positions = waiting()
    assert not positions.listening  # a hint may never come
    view = View(4)
    assert await rw.read("orders", Position("ORDERS", 4), 1, view.plain, view.checked) == "row@4"
    assert view.checked_reads == 1


async def test_a_position_of_another_stream_is_refused() -> None:
    rw, _ = waiting()
    view = View(1)
    with pytest.raises(PositionOfAnotherStream):
        await rw.read("orders", Position("STOCK", 1), 1, view.plain, view.checked)


def test_list_statements_number_their_parameters_in_order() -> None:
    sql = queries.list_orders_sql(status=True, customer=True, before=True)
    assert "o.status = $2" in sql and "o.customer_id = $3" in sql
    assert "(o.created_at, o.order_id) < ($4, $5)" in sql and sql.endswith("LIMIT $1")
    assert "$2" not in queries.list_orders_sql(status=False, customer=False, before=False)
    assert "s.sku > $2" in queries.list_stock_sql(max_available=False, after=True)
    both = queries.list_stock_sql(max_available=True, after=True)
    assert "<= $2" in both and "s.sku > $3" in both
    assert "name = $4" in queries.checked(both, 4)


def test_a_page_holds_limit_items_and_a_cursor_at_its_last_when_there_are_more() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {"body": json.dumps({"n": n}), "created_at": moment, "order_id": UUID(int=n)}
        for n in range(3)
    ]
    page = json.loads(queries.order_page(rows, 2))
    assert page["items"] == [{"n": 0}, {"n": 1}]
    assert parse_order_cursor(page["next_cursor"]) == (moment, UUID(int=1))
    assert json.loads(queries.order_page(rows, 3))["next_cursor"] is None
    empty = [{"position": 1, "body": None, "created_at": None, "order_id": None}]
    assert json.loads(queries.order_page(empty, 5)) == {"items": [], "next_cursor": None}
    stock = [{"body": "{}", "sku": f"s-{n}"} for n in range(2)]
    assert parse_stock_cursor(json.loads(queries.stock_page(stock, 1))["next_cursor"]) == "s-0"
