"""Projection catch-up and replay rates over >= 200k events, beside a raw pull-consumer read
and a raw batched PostgreSQL upsert measured in the same run, on the same servers.

    .venv/bin/python -m bench.projection_rate [--events 200000] [--runs 1]
"""

import argparse
import asyncio
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import nats
import uvloop
from nats.aio.client import Client as NATS
from pydantic import SecretStr

from bench.harness import Figure, print_table, scratch_dir
from bench.projection_load import (
    decode_rate,
    publish_events,
    raw_pull,
    raw_upsert,
    view_digest,
)
from projections.consumers import ensure_projection_consumer
from projections.dlq import ensure_dlq_stream
from projections.messages import StoredMessage
from projections.registry import get_projection
from projections.replay import Replay
from projections.runner import Projector, ProjectorSettings
from tally.bootstrap import bootstrap
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.http.app import create_api_app
from tally.roles.database import run_alembic
from tally.settings import Settings
from write_side.streams import StreamSettings, ensure_streams


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
    await ensure_dlq_stream(nc.jetstream())  # as `tally migrate` does
    await ensure_projection_consumer(nc.jetstream(), get_projection(name))
    projector = Projector(get_projection(name), nc, dsn, ProjectorSettings(batch_size=batch))
    started = time.perf_counter()
    task = asyncio.create_task(projector.run(stop))
    await wait_checkpoint(dsn, name, count)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return count / elapsed


async def replay(nc: NATS, dsn: str, name: str, batch: int) -> float:
    started = time.perf_counter()
    result = await Replay(get_projection(name), nc, dsn, batch_size=batch).run()
    elapsed = time.perf_counter() - started
    if result.comparison is not None:
        print(
            f"replay {name}: {result.events:,} events in {elapsed:.1f} s, compared with the"
            f" live view in {result.compare_seconds:.2f} s ({result.compare_seconds / elapsed:.0%})"
            f"{'' if result.comparison.identical else ', DIFFERENT'}",
            flush=True,
        )
    return result.events / elapsed


async def cli_replay(nats_url: str, dsn: str, name: str) -> float:
    """`tally replay NAME --yes` as its own process; the rate it prints."""
    env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": dsn, "TALLY_LOG_LEVEL": "warning"}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "tally"),
        *("replay", name, "--yes"),
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    found = re.search(r"events replayed in [\d.]+ s \(([\d,]+)/s\)", output)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"tally replay failed:\n{output[-2000:]}")
    return float(found.group(1).replace(",", ""))


async def replay_while_serving(nc: NATS, nats_url: str, dsn: str) -> tuple[float, str]:
    """`tally replay orders` in its own process while GET /orders and GET /orders/{id} are
    asked in a loop through the real query routes here; the rate, and what the API
    answered meanwhile."""
    before = await view_digest(dsn)
    answers: Counter[int] = Counter()
    latencies: list[float] = []
    done = asyncio.Event()
    settings = Settings(nats_url=nats_url, database_url=SecretStr(dsn))
    async with bootstrap(settings, name="bench-api", nats=nc) as parts:
        side = await parts.query_side()
        app = create_api_app(routes=side.routes, checks={})
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
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
                rate = await cli_replay(nats_url, dsn, "orders")
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
            ("replay_orders", "tally replay orders (process), API asked", "events/s"),
            ("replay_stock", "replay stock (batch 5000)", "events/s"),
            ("replay_orders_in", "replay orders (batch 5000), compared first", "events/s"),
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
                orders = await replay(nc, dsn, "orders", 5000)
                figures["replay_orders_in"].runs.append(orders)
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
            (figures["replay_orders_in"], pull),
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
