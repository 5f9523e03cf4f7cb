"""Scenario 7: 200 orders posted at once on 10 SKUs with scarce stock, a few cancelled
while in flight, two `tally fulfil` processes racing for the reservations (or sharing
them as shards: each SKU's done by its owner), with stock snapshots every 3 events (the
second process starts from them): SPEC §1's stock invariant holds at every position of
every stock stream, no SKU is oversold, stock is held exactly by the confirmed orders, and
the read model agrees with the fold."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from events.codec import RecordedEvent
from support.fault_report import FaultReport
from support.read_side import connect
from support.roles import Role, role_env
from support.stack import running_stack
from support.stream_fold import (
    converged,
    differences,
    fold_orders,
    fold_stock,
    read_stream,
    view_orders,
    view_stock,
)
from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET

pytestmark = pytest.mark.faults
SKUS = [f"c-{i}" for i in range(10)]
ORDERS, UNITS, CANCELS = 200, 12, 20


def order_body(rng: random.Random, index: int) -> dict[str, object]:
    skus = rng.sample(SKUS, rng.randint(1, 3))
    price = "6000.00" if index % 10 == 0 else "10.00"  # 2 x 6000 > the payment limit
    lines = [
        {"sku": sku, "quantity": 2 if index % 10 == 0 else rng.randint(1, 3), "unit_price": price}
        for sku in skus
    ]
    return {"customer_id": f"cust-{index % 17}", "lines": lines}


async def snapshot_of(bucket: KeyValue, key: str) -> bytes | None:
    try:
        return (await bucket.get(key)).value
    except KeyNotFoundError:
        return None


def held(events: list[RecordedEvent]) -> dict[tuple[str, str], int]:
    """(order id, sku) -> units still reserved, from the stock events."""
    sign = {"StockReserved": 1, "StockReservationReleased": -1, "StockShipped": -1}
    net: Counter[tuple[str, str]] = Counter()
    for recorded in events:
        if recorded.event_type in sign:
            order_id = str(getattr(recorded.event, "order_id", ""))
            quantity = int(getattr(recorded.event, "quantity", 0))
            net[(order_id, recorded.aggregate_id)] += sign[recorded.event_type] * quantity
    return {key: units for key, units in net.items() if units}


@pytest.mark.parametrize("sharded", [False, True], ids=["racing", "sharded"])
async def test_two_hundred_concurrent_orders_on_scarce_stock(
    nats_url: str, database_url: str, tmp_path: Path, report: FaultReport, sharded: bool
) -> None:
    """`sharded`: the two processes are shards of each other (TALLY_FULFIL_SHARD 0/2 and
    1/2: each SKU's stock commands done by its owner); else each races on every SKU."""
    rng = random.Random(3)
    shards = ("0/2", "1/2") if sharded else ("0/1", "0/1")
    env = role_env(nats_url, database_url, TALLY_SNAPSHOT_EVERY="3", TALLY_FULFIL_SHARD=shards[0])
    async with running_stack(env, tmp_path) as stack:
        second_env = {**env, "TALLY_FULFIL_SHARD": shards[1]}
        second = Role(["fulfil"], second_env, tmp_path / "fulfil-2.log").start()
        try:
            async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
                for sku in SKUS:
                    answer = await client.post(f"/stock/{sku}/receive", json={"quantity": UNITS})
                    assert answer.status_code == 202
                bodies = [order_body(rng, index) for index in range(ORDERS)]
                started = time.monotonic()
                answers = await asyncio.gather(*(client.post("/orders", json=b) for b in bodies))
                placed = time.monotonic() - started
                assert [a.status_code for a in answers] == [202] * ORDERS
                ids = [a.json()["order_id"] for a in answers]
                cancels = await asyncio.gather(
                    *(client.post(f"/orders/{i}/cancel", json={}) for i in rng.sample(ids, CANCELS))
                )
                assert {c.status_code for c in cancels} <= {202, 409}
            report.note(f"{ORDERS} orders accepted concurrently in {placed:.2f} s")
            report.fault(f"{CANCELS} cancellations racing fulfilment", CANCELS)
            took = await converged(nats_url, database_url)
            report.recovered(took, "every order settled and both views caught up")
            assert stack.all_alive() and second.alive, stack.tails()
        finally:
            second.kill()
    nc = await connect(nats_url)
    orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
    snapshots = await nc.jetstream().key_value(SNAPSHOT_BUCKET)
    snapshotted = [sku for sku in SKUS if await snapshot_of(snapshots, f"stock.{sku}")]
    await nc.close()
    assert snapshotted, "no stock item was snapshotted"
    expected_orders, (expected_stock, broken) = fold_orders(orders.events), fold_stock(stock.events)
    assert broken == [], broken[:5]
    lines = {
        r.aggregate_id: {line.sku: line.quantity for line in getattr(r.event, "lines", ())}
        for r in orders.events
        if r.event_type == "OrderPlaced"
    }
    placed_events = sum(1 for r in orders.events if r.event_type == "OrderPlaced")
    assert sorted(lines) == sorted(ids) and placed_events == ORDERS
    holding = held(stock.events)
    wrong = []
    for order_id, row in expected_orders.items():
        mine = {sku: units for (o, sku), units in holding.items() if o == order_id}
        want = lines[order_id] if row[1] == "confirmed" else {}
        if mine != want:
            wrong.append(f"{order_id} {row[1]} holds {mine}, wants {want}")
    assert wrong == [], wrong[:5]
    for sku, (on_hand, reserved, _, _) in expected_stock.items():
        assert on_hand == UNITS and 0 <= reserved <= on_hand, sku
    actual_orders, actual_stock = await view_orders(database_url), await view_stock(database_url)
    assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
    assert actual_stock == expected_stock, differences(expected_stock, actual_stock)
    outcome = Counter(
        row[1] if row[3] is None else f"{row[1]}:{row[3]}" for row in actual_orders.values()
    )
    report.figure("orders", ORDERS)
    report.figure("outcomes", dict(sorted(outcome.items())))
    report.figure("stock_events", len(stock.events))
    report.figure("units_reserved", sum(row[1] for row in actual_stock.values()))
    report.figure("units_on_hand", sum(row[0] for row in actual_stock.values()))
    report.figure("lost", 0)
    report.figure("doubled", placed_events - ORDERS)
    report.note("0 <= reserved <= on_hand at every stock position; held stock = confirmed lines")
