"""Projection catch-up and replay rates over >= 200k events, beside a raw pull-consumer read
and a raw batched PostgreSQL upsert measured in the same run, on the same servers.

    .venv/bin/python -m bench.projection_rate [--events 200000] [--runs 1]
"""

import argparse
import asyncio
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import asyncpg
import nats
import uvloop
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig

from bench.harness import Figure, print_table, scratch_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from events.codec import encode
from events.envelope import Envelope
from events.orders import OrderConfirmed, OrderLine, OrderPlaced
from events.stock import StockReceived, StockReserved
from projections.messages import StoredMessage, decode_all
from projections.pull import PullReader
from projections.registry import get_projection
from projections.replay import Replay
from projections.runner import Projector, ProjectorSettings
from support.query_app import query_client
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.roles.database import run_alembic
from write_side.streams import StreamSettings, ensure_streams

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LINE = OrderLine(sku="sku-1", quantity=2, unit_price=Decimal("12.50"))


async def publish_events(nc: NATS, count: int) -> None:
    """`count` ORDERS events (half placed, half confirmed) and `count` STOCK events."""
    js = nc.jetstream()
    pending: list[asyncio.Future[object]] = []

    async def send(subject: str, data: bytes, headers: dict[str, str]) -> None:
        pending.append(asyncio.ensure_future(js.publish(subject, data, headers=headers)))
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()

    orders = [str(uuid4()) for _ in range(count // 2)]
    for index, order_id in enumerate(orders + orders):
        envelope = Envelope(occurred_at=T0 + timedelta(milliseconds=index))
        event = (
            OrderPlaced(
                customer_id=f"c{index % 97}", currency="EUR", lines=(LINE,), total=Decimal(25)
            )
            if index < len(orders)
            else OrderConfirmed(authorization_id="auth")
        )
        await send(f"orders.{order_id}", *encode(event, envelope))
    for index in range(count):
        stock_event = (
            StockReceived(quantity=5) if index % 2 else StockReserved(order_id="o", quantity=1)
        )
        envelope = Envelope(occurred_at=T0 + timedelta(milliseconds=index))
        await send(f"stock.sku-{index % 1000}", *encode(stock_event, envelope))
    await asyncio.gather(*pending)


async def raw_pull(nc: NATS, stream: str, count: int, keep: list[StoredMessage]) -> float:
    """Messages/s of a callback pull consumer, AckAll on each batch's last message."""
    name = f"bench-{uuid4().hex[:6]}"
    await nc.jetstream().add_consumer(
        stream, ConsumerConfig(durable_name=name, ack_policy=AckPolicy.ALL, max_ack_pending=20_000)
    )
    reader = PullReader(nc, stream, name, prefetch=1000, decode=False)
    await reader.start()
    started, seen = time.perf_counter(), 0
    while seen < count:
        batch = await reader.take(500, timeout=5)
        keep += batch
        seen += len(batch)
        await reader.ack_all(batch[-1])
    elapsed = time.perf_counter() - started
    await reader.close()
    await nc.jetstream().delete_consumer(stream, name)
    return count / elapsed


async def raw_upsert(dsn: str, count: int) -> float:
    """Rows/s of 500-row unnest upserts, one transaction each, onto 5,000 keys."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_upsert (k text PRIMARY KEY, n bigint, v int,"
            " at timestamptz, s bigint)"
        )
        started = time.perf_counter()
        for first in range(0, count, 500):
            keys = [f"k{i % 5000}" for i in range(first, first + 500)]
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO bench_upsert AS b SELECT * FROM unnest($1::text[], $2::bigint[],"
                    " $3::int[], $4::timestamptz[], $5::bigint[]) ON CONFLICT (k) DO UPDATE SET"
                    " n = b.n + EXCLUDED.n, v = b.v + EXCLUDED.v, at = EXCLUDED.at, s = EXCLUDED.s",
                    list(dict.fromkeys(keys)),
                    [1] * len(set(keys)),
                    [1] * len(set(keys)),
                    [T0] * len(set(keys)),
                    [first] * len(set(keys)),
                )
        return count / (time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_upsert")
        await conn.close()


async def wait_checkpoint(dsn: str, name: str, seq: int) -> None:
    conn = await asyncpg.connect(dsn)
    query = "SELECT position FROM projection_checkpoints WHERE name = $1"
    try:
        while (await conn.fetchval(query, name) or 0) < seq:  # noqa: ASYNC110 (a bench)
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def catch_up(nc: NATS, dsn: str, name: str, count: int, batch: int) -> float:
    stop = asyncio.Event()
    projector = Projector(get_projection(name), nc, dsn, ProjectorSettings(batch_size=batch))
    started = time.perf_counter()
    task = asyncio.create_task(projector.run(stop))
    await wait_checkpoint(dsn, name, count)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return count / elapsed


def decode_rate(messages: list[StoredMessage]) -> float:
    """Events/s of events.codec alone (pydantic validation, upcasting, envelope)."""
    started = time.perf_counter()
    decode_all(messages)
    return len(messages) / (time.perf_counter() - started)


async def view_digest(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        digests = [
            await conn.fetchval(
                f"SELECT md5(string_agg(t::text, ',' ORDER BY {key})) FROM {table} t"
            )
            for table, key in (("orders", "order_id"), ("order_lines", "order_id, line_no"))
        ]
        return ":".join(digests)
    finally:
        await conn.close()


async def replay(nc: NATS, dsn: str, name: str, batch: int) -> float:
    started = time.perf_counter()
    result = await Replay(get_projection(name), nc, dsn, batch_size=batch).run()
    return result.events / (time.perf_counter() - started)


async def replay_while_serving(nc: NATS, nats_url: str, dsn: str) -> tuple[float, str]:
    """Replay orders while GET /orders and GET /orders/{id} are asked in a loop through
    the real query routes; returns the rate and what the API answered meanwhile."""
    before = await view_digest(dsn)
    answers: Counter[int] = Counter()
    latencies: list[float] = []
    done = asyncio.Event()
    async with query_client(nc, nats_url, dsn) as client:
        some = (await client.get("/orders", params={"limit": 1})).json()["items"][0]["order_id"]

        async def ask() -> None:
            while not done.is_set():
                for path in ("/orders", f"/orders/{some}"):
                    started = time.perf_counter()
                    answer = await client.get(
                        path, params={"limit": 50} if path == "/orders" else {}
                    )
                    latencies.append(time.perf_counter() - started)
                    answers[answer.status_code] += 1
                await asyncio.sleep(0.005)

        asking = asyncio.create_task(ask())
        try:
            rate = await replay(nc, dsn, "orders", 5000)
        finally:
            done.set()
            await asking
    same = "identical" if await view_digest(dsn) == before else "DIFFERENT"
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0.0
    return rate, f"view {same} after replay; API answers {dict(answers)}, p99 {p99:.0f} ms"


async def main(count: int, runs: int, batch: int, out: Path | None) -> None:
    figures = {
        key: Figure(label, unit)
        for key, label, unit in [
            ("pull", "raw pull consumer read (ORDERS)", "msgs/s"),
            ("upsert", "raw batched upsert (500 rows/txn)", "rows/s"),
            ("decode", "decode only (events.codec, ORDERS)", "events/s"),
            ("orders", f"orders projection catch-up (batch {batch})", "events/s"),
            ("stock", f"stock projection catch-up (batch {batch})", "events/s"),
            ("replay_orders", "replay orders (batch 5000), API asked", "events/s"),
            ("replay_stock", "replay stock (batch 5000)", "events/s"),
        ]
    }
    with scratch_dir() as home:
        nats_server = EmbeddedNats(home / "nats")
        postgres = EmbeddedPostgres(home / "pg")
        nats_server.start()
        postgres.start()
        try:
            dsn = postgres.create_database("bench")
            await run_alembic(dsn)
            nc = await nats.connect(nats_server.url)
            await ensure_streams(nc.jetstream(), StreamSettings())
            started = time.perf_counter()
            await publish_events(nc, count)
            print(f"published {2 * count:,} events in {time.perf_counter() - started:.1f} s")
            for run in range(runs):
                read: list[StoredMessage] = []
                figures["pull"].runs.append(await raw_pull(nc, "ORDERS", count, read))
                figures["decode"].runs.append(decode_rate(read))
                del read
                figures["upsert"].runs.append(await raw_upsert(dsn, count))
                if run == 0:
                    figures["orders"].runs.append(await catch_up(nc, dsn, "orders", count, batch))
                    figures["stock"].runs.append(await catch_up(nc, dsn, "stock", count, batch))
                rate, serving = await replay_while_serving(nc, nats_server.url, dsn)
                figures["replay_orders"].runs.append(rate)
                print(serving)
                figures["replay_stock"].runs.append(await replay(nc, dsn, "stock", 5000))
            await nc.close()
        finally:
            postgres.stop()
            nats_server.stop()
    pull, upsert = figures["pull"], figures["upsert"]
    print_table(
        [
            (pull, None),
            (upsert, None),
            (figures["decode"], pull),
            (figures["orders"], pull),
            (figures["stock"], pull),
            (figures["replay_orders"], pull),
            (figures["replay_stock"], pull),
        ],
        out,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events per stream")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500, help="projector batch size")
    parser.add_argument("--out", type=Path, default=Path("bench/results/projection_rate.json"))
    arguments = parser.parse_args()
    uvloop.run(main(arguments.events, arguments.runs, arguments.batch, arguments.out))
