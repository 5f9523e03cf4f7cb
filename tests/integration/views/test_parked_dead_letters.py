"""Sequenced dead letters against real NATS and PostgreSQL: once an event of a SKU is
dead-lettered, the later events of that SKU are parked behind it (in order, not applied)
while the other SKUs go on; a retry of the head after a fix applies it and then the parked
ones in order, a drop releases the next (which heads the rest when it fails too). The
projector is restarted between steps, a replay swap keeps the parked events, the audit
counters add up throughout and the view ends as the fold of its stream.

The bug is a real one in the projection's code path, injected: `Buggy` is the stock
projection refusing a receipt of 13 units (as a fold raising on a value it does not
expect) until it is fixed; `tally dlq` retries with the registry's (fixed) projection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from events.base import Event
from events.partitions import Layout
from events.stock import StockReceived, StockReserved
from projections.audit import audit_row, audit_view
from projections.base import Connection, Projection
from projections.consumers import ensure_view_consumers
from projections.dlq import ensure_dlq_stream, list_dead_letters
from projections.facts import Fact
from projections.partitions import ViewPartition
from projections.registry import get_projection
from projections.replay import Replay
from projections.runner import Projector
from support.read_side import FAST, publish, wait_position
from support.roles import TALLY, role_env
from support.stream_fold import audit_counters, fold_stock, incomplete, read_stream, view_stock
from support.wrapped_projection import WrappedProjection
from tally.operator import dead_letters as letters
from write_side.streams import StreamSettings, ensure_streams

pytestmark = pytest.mark.integration
POISON = 13


class Buggy(WrappedProjection):
    """The stock projection with a bug: a receipt of 13 raises, until `fixed`."""

    def __init__(self) -> None:
        super().__init__(get_projection("stock"))
        self.fixed = False

    async def apply(self, conn: Connection, schema: str, facts: Sequence[Fact]) -> None:
        if not self.fixed and any(fact.data.get("quantity") == POISON for fact in facts):
            raise ValueError(f"a bug: cannot fold a receipt of {POISON}")
        await self.real.apply(conn, schema, facts)


@contextlib.asynccontextmanager
async def projecting(nc: NATS, db: str, rows: list[Projection]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(Projector(row, nc, db, FAST).run(stop)) for row in rows]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


async def project(nc: NATS, db: str, rows: list[Projection], items: list[tuple[str, Event]]) -> int:
    """Publish `items`, then run a fresh projector per row until each has caught up."""
    last = await publish(nc, items)
    js = nc.jetstream()
    async with projecting(nc, db, rows):
        for row in rows:
            subjects = f"stock.{row.partition}.*" if isinstance(row, ViewPartition) else "stock.>"
            with contextlib.suppress(NotFoundError):  # a partition with no events
                top = int((await js.get_last_msg("STOCK", subjects)).seq or 0)
                await wait_position(db, row.name, top)
    return last


def dlq_list(nats_url: str, db: str) -> list[dict[str, Any]]:
    """`tally dlq list --json`, and its table shows the parked events under their head."""
    env = role_env(nats_url, db)
    done = subprocess.run(
        [TALLY, "dlq", "list", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    table = subprocess.run([TALLY, "dlq", "list"], env=env, capture_output=True, text=True)
    assert "parked behind" in table.stdout, table.stdout
    items: list[dict[str, Any]] = json.loads(done.stdout)["items"]
    return items


def receipts(sku: str, *quantities: int) -> list[tuple[str, Event]]:
    return [(f"stock.{sku}", StockReceived(quantity=quantity)) for quantity in quantities]


async def parked(db: str) -> dict[str, list[tuple[int, bool]]]:
    """SKU -> its (stream sequence, head) rows of heads and parked events, in order."""
    conn = await asyncpg.connect(db)
    try:
        found = await conn.fetch(
            "SELECT aggregate, seq, state = 'dead' AS head FROM parked_events"
            " WHERE view = 'stock' AND state <> 'dropped' ORDER BY seq"
        )
    finally:
        await conn.close()
    rows: dict[str, list[tuple[int, bool]]] = {}
    for row in found:
        rows.setdefault(row["aggregate"], []).append((row["seq"], row["head"]))
    return rows


async def audited(nc: NATS, db: str, rows: list[Projection]) -> None:
    """The counters add up, JetStream's count agrees, and so do the view's rows."""
    assert incomplete(await audit_counters(db)) == {}
    conn = await asyncpg.connect(db)
    try:
        audits = [await audit_row(conn, nc.jetstream(), row) for row in rows]
        view = await audit_view(conn, get_projection("stock"), audits)
    finally:
        await conn.close()
    assert all(audit.ok for audit in audits) and view.ok, [a.describe() for a in audits]


async def fold(nc: NATS, without: Sequence[int] = ()) -> dict[str, tuple[int, int, int, int]]:
    events = [e for e in (await read_stream(nc, "STOCK")).events if e.seq not in without]
    return fold_stock(events)[0]


@pytest.fixture(params=[1, 3], ids=["whole", "3-partitions"])
async def rows(request: pytest.FixtureRequest, nc: NATS) -> list[Projection]:
    """The stock view's projectors (with the bug): the whole view, or three partitions."""
    count = int(request.param)
    js = nc.jetstream()
    await ensure_streams(js, StreamSettings(partitions=count))
    await ensure_dlq_stream(js)
    await ensure_view_consumers(js, get_projection("stock"), Layout({"STOCK": count}))
    buggy = Buggy()
    if count == 1:
        return [buggy]
    return [ViewPartition(buggy, partition, count) for partition in range(count)]


def bug_of(rows: list[Projection]) -> Buggy:
    first = rows[0]
    bug = first.view if isinstance(first, ViewPartition) else first
    assert isinstance(bug, Buggy)
    return bug


async def test_a_poisoned_sku_parks_until_its_head_is_retried(
    nc: NATS, db: str, rows: list[Projection]
) -> None:
    js = nc.jetstream()
    await project(nc, db, rows, [*receipts("A", 5), *receipts("B", 1), *receipts("A", POISON)])
    items = [
        *receipts("A", 2),
        *receipts("B", 3),
        ("stock.A", StockReserved(order_id="o-1", quantity=1)),
        *receipts("B", 4),
    ]
    await project(nc, db, rows, items)  # a fresh projector: a restart between steps
    view = await view_stock(db)
    assert view["A"][:3] == (5, 0, 1) and view["B"][:3] == (8, 0, 3)
    (head,) = await list_dead_letters(js)
    poison = head.original.seq
    assert [seq for seq, _ in (await parked(db))["A"]] == [poison, poison + 1, poison + 3]
    assert (await parked(db))["A"][0] == (poison, True)
    await audited(nc, db, rows)

    await project(nc, db, rows, [*receipts("A", 6), *receipts("B", 1)])  # restarted again
    assert len((await parked(db))["A"]) == 4 and (await view_stock(db))["B"][:3] == (9, 0, 4)
    listed = await letters.list_letters(js)
    conn = await asyncpg.connect(db)
    try:
        behind = await letters.parked_of(conn, listed)
        assert [event["type"] for event in behind[head.seq]] == [
            "StockReceived",
            "StockReserved",
            "StockReceived",
        ]
        before = await view_stock(db)
        # a replay (the bug still there) parks the same events: equal, swapped in
        result = await Replay(bug_of(rows), nc, db, batch_size=3).run()
        assert result.comparison is not None and result.comparison.identical, result.comparison
        assert result.swapped and await view_stock(db) == before
        assert len((await parked(db))["A"]) == 4
        await audited(nc, db, rows)

        bug_of(rows).fixed = True  # the fix is deployed; the operator retries the head
        retried = await letters.retry_letter(js, conn, head.seq)
        assert (retried.outcome, retried.released) == ("applied", 3), retried
    finally:
        await conn.close()
    assert await parked(db) == {} and await list_dead_letters(js) == []
    assert await view_stock(db) == await fold(nc)
    await project(nc, db, rows, receipts("A", 1))  # A is applied at once again
    assert await view_stock(db) == await fold(nc)
    await audited(nc, db, rows)


async def test_a_drop_releases_the_next_which_heads_the_rest_when_it_fails_too(
    nc: NATS, nats_url: str, db: str, rows: list[Projection]
) -> None:
    js = nc.jetstream()
    await project(nc, db, rows, [*receipts("C", 5, POISON, 7), *receipts("D", 1)])
    broken = await js.publish("stock.C", b"{not json", headers={"Tally-Event-Type": "X"})
    await project(nc, db, rows, [*receipts("C", 2), *receipts("D", 1)])
    assert (await view_stock(db))["C"][:3] == (5, 0, 1)
    (head,) = await list_dead_letters(js)
    assert len((await parked(db))["C"]) == 4
    conn = await asyncpg.connect(db)
    try:
        dropped = await letters.drop_letter(js, head.seq, conn)
        assert (dropped.outcome, dropped.released) == ("dropped", 1), dropped
        (new_head,) = await list_dead_letters(js)  # the undecodable one, the 2 behind it
        assert new_head.original.seq == broken.seq
        assert (await view_stock(db))["C"][:3] == (12, 0, 2)
        assert await parked(db) == {"C": [(broken.seq, True), (broken.seq + 1, False)]}
        await audited(nc, db, rows)
        behind = await letters.parked_of(conn, [new_head])
        assert [event["position"] for event in behind[new_head.seq]] == [f"STOCK:{broken.seq + 1}"]
        listed = await asyncio.to_thread(dlq_list, nats_url, db)  # the CLI shows them too
        assert [(item["seq"], len(item["parked"])) for item in listed] == [(new_head.seq, 1)]
        await project(nc, db, rows, receipts("C", 4))  # restarted: C still parked
        assert (await view_stock(db))["C"][:3] == (12, 0, 2)

        again = await letters.drop_letter(js, new_head.seq, conn)
        assert (again.outcome, again.released) == ("dropped", 2), again
    finally:
        await conn.close()
    assert await parked(db) == {} and await list_dead_letters(js) == []
    assert await view_stock(db) == await fold(nc, without=[head.original.seq])
    await audited(nc, db, rows)
    # a rebuild skips what was dropped, as the live view did: equal, nothing parked again
    result = await Replay(bug_of(rows), nc, db, batch_size=2).run()
    assert result.comparison is not None and result.comparison.identical, result.comparison
    assert await parked(db) == {} and await list_dead_letters(js) == []
    await audited(nc, db, rows)


async def test_a_replay_with_the_fix_applies_what_was_parked_and_drops_the_dead_letter(
    nc: NATS, db: str, rows: list[Projection]
) -> None:
    js = nc.jetstream()
    await project(nc, db, rows, [*receipts("E", 1, POISON, 2), *receipts("F", 3, 4)])
    assert len(await list_dead_letters(js)) == 1 and len((await parked(db))["E"]) == 2
    bug_of(rows).fixed = True  # fixed, and the view rebuilt rather than retried
    result = await Replay(bug_of(rows), nc, db, batch_size=2).run()
    assert result.swapped and result.comparison is not None
    assert not result.comparison.identical  # the rebuild holds what the live view parked
    assert await parked(db) == {} and await list_dead_letters(js) == []  # would apply twice
    assert await view_stock(db) == await fold(nc)
    await audited(nc, db, rows)
    await project(nc, db, rows, receipts("E", 5))  # the projectors go on, E not parked
    assert await view_stock(db) == await fold(nc)
