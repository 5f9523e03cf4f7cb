"""Scenario 6, poison: invalid JSON, an unknown event type, an unknown schema version,
missing headers and a 1 MiB payload, published straight onto the order and stock subjects
between valid events: `tally project` dead-letters the first of each aggregate with its
reason and goes on, parking that aggregate's later events behind it; the operator drops
each dead letter in turn (each drop releases what waited behind it, the next poison then
heading the rest), until every poison message was dead-lettered once with its reason and
the views hold exactly the valid events."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from nats.js import JetStreamContext

from events.base import Event
from events.codec import encode
from events.envelope import EVENT_TYPE, EVENT_VERSION, MSG_ID, Envelope
from events.stock import StockReceived
from projections.dlq import DeadLetter, list_dead_letters
from support.fault_report import FaultReport
from support.read_side import connect, placed
from support.roles import Role, migrate, role_env
from support.stream_fold import (
    checkpoints,
    differences,
    fold_orders,
    fold_stock,
    read_stream,
    view_orders,
    view_stock,
)
from tally.embedded import EmbeddedNats
from tally.operator import dead_letters as letters

pytestmark = pytest.mark.faults
MIB = 1024 * 1024


def poison(event: Event) -> dict[str, tuple[bytes, dict[str, str]]]:
    """Each kind of poison, made from a valid `event`: reason -> (body, headers)."""
    data, headers = encode(event, Envelope())
    body = json.loads(data)
    field = "customer_id" if "customer_id" in body else "quantity"
    huge = json.dumps({**body, field: "x" * MIB}).encode()
    kinds = {
        "invalid-json": (b'{"customer_id": "truncated', headers),
        "unknown-event-type": (data, headers | {EVENT_TYPE: "OrderTeleported"}),
        "unknown-schema-version": (data, headers | {EVENT_VERSION: "99"}),
        "missing-header": (data, {}),
        "invalid-data": (huge, headers),
    }
    return {  # every one a message of its own, not a duplicate of another
        reason: (body, bad | {MSG_ID: str(uuid4())} if bad else bad)
        for reason, (body, bad) in kinds.items()
    }


async def drop_until_none_is_left(js: JetStreamContext, database_url: str) -> list[DeadLetter]:
    """Every dead letter seen while dropping them all, each drop releasing the events parked
    behind it (a poison among them heads the rest as a new dead letter)."""
    seen: list[DeadLetter] = []
    conn = await asyncpg.connect(database_url)
    try:
        while found := await list_dead_letters(js):
            for letter in found:
                seen.append(letter)
                assert (await letters.drop_letter(js, letter.seq, conn)).outcome == "dropped"
        left = "SELECT count(*) FROM parked_events WHERE state <> 'dropped'"
        assert await conn.fetchval(left) == 0
    finally:
        await conn.close()
    return seen


async def test_poison_lands_in_the_dead_letters_and_projection_goes_on(
    database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    server = EmbeddedNats(tmp_path / "nats", extra_config="max_payload: 4MB")
    await asyncio.to_thread(server.start)
    env = role_env(server.url, database_url, TALLY_PROJECTOR_MAX_DELIVERIES="2")
    projector = Role(["project", "orders", "stock"], env, tmp_path / "project.log")
    try:
        await asyncio.to_thread(migrate, env)
        nc = await connect(server.url)
        js = nc.jetstream()
        projector.start()
        published: list[tuple[str, str]] = []  # (subject, poison reason)
        valid = 0
        for round_no in range(3):  # poison before, while and after the projector runs
            for index in range(60):
                order = f"orders.{uuid4()}"
                for subject, event in [
                    (order, placed(f"c-{index}", ("sku-1", 1, "1.00"))),
                    (f"stock.sku-{index % 4}", StockReceived(quantity=1 + index)),
                ]:
                    data, headers = encode(event, Envelope())
                    await js.publish(subject, data, headers=headers)
                    valid += 1
                    if index % 20 == 7:
                        for reason, (body, bad) in poison(event).items():
                            target = f"orders.{uuid4()}" if subject == order else subject
                            ack = await js.publish(target, body, headers=bad or None)
                            assert not ack.duplicate
                            published.append((target, reason))
            await asyncio.sleep(0.5 * round_no)
        report.fault(
            f"published {len(published)} poison messages among {valid} valid events", len(published)
        )
        started = time.monotonic()
        last = {
            "orders": (await js.stream_info("ORDERS")).state.last_seq,
            "stock": (await js.stream_info("STOCK")).state.last_seq,
        }
        async with asyncio.timeout(60):
            while await checkpoints(database_url) != last:
                assert projector.alive, projector.tail()
                await asyncio.sleep(0.1)
        report.recovered(time.monotonic() - started, "both projections at the streams' end")
        letters = await drop_until_none_is_left(js, database_url)
        orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
        await nc.close()
    finally:
        projector.kill()
        await asyncio.to_thread(server.stop)
    wanted = sorted(published)
    found = sorted((letter.original.subject, letter.error.split(":")[0]) for letter in letters)
    assert found == wanted, (found, wanted)
    poison_seqs = sorted(orders.poison) + sorted(stock.poison)
    assert sorted(letter.original.seq for letter in letters) == sorted(poison_seqs)
    assert len(orders.events) + len(stock.events) == valid
    expected_orders, (expected_stock, _) = fold_orders(orders.events), fold_stock(stock.events)
    actual_orders, actual_stock = await view_orders(database_url), await view_stock(database_url)
    assert actual_orders == expected_orders, differences(expected_orders, actual_orders)
    assert actual_stock == expected_stock, differences(expected_stock, actual_stock)
    biggest = max(len(letter.original.data) for letter in letters)
    report.figure("valid_events", valid)
    report.figure("poison", len(published))
    report.figure("dead_letters", len(letters))
    report.figure("largest_dead_letter_bytes", biggest)
    report.figure("reasons", sorted({reason for _, reason in wanted}))
    report.figure("lost", 0)
    report.figure("doubled", len(letters) - len(published))
    report.note(
        "each poison message dead-lettered once with its reason (the later ones of an"
        " aggregate parked until the one before was dropped); views equal the fold"
    )
