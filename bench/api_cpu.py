"""CPU per request of the API app in this process, driven through ASGI with no HTTP server
and no socket on the client side, 32 requests in flight: a figure that a busy machine
distorts far less than requests/s (the NATS server runs in its own process).

    .venv/bin/python -m bench.api_cpu [--requests 5000]

Prints µs of process CPU per POST /stock/{sku}/receive (on SKUs the API has folded, as
it has those in use; and on SKUs it has not seen, which it reads first), POST /orders, and
per POST for the trivial Starlette app; with `--gets`, per GET of each query measure
(`bench.view_seed`: view rows written straight into an embedded PostgreSQL) and per GET
of the trivial app. Logging is configured as `tally api` does (JSON lines, info level),
written to /dev/null.
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from bench.harness import scratch_dir
from bench.trivial_app import app as trivial_app
from bench.view_seed import get_paths, seed_views
from tally.bootstrap import bootstrap
from tally.embedded.nats_server import EmbeddedNats
from tally.embedded.postgres_server import EmbeddedPostgres
from tally.logging_setup import configure_logging
from tally.roles.api import api_app
from tally.roles.heap import settle_heap
from tally.roles.migrate import run_migrate
from tally.settings import Settings

Asgi = Callable[..., Any]
SKUS = 1000  # the receives' SKUs, all of them folded (cached) before the count
ORDER = {
    "customer_id": "cpu",
    "lines": [
        {"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"},
        {"sku": "SKU-2", "quantity": 1, "unit_price": "2.50"},
    ],
}


async def call(app: Asgi, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"host", b"bench"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def cpu_per_request(app: Asgi, make: Callable[[], tuple[str, str, bytes]], n: int) -> float:
    """µs of this process's CPU per request, `n` requests with 32 in flight."""
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            queue.pop()
            status, body = await call(app, *make())
            if status >= 300:
                raise RuntimeError(f"{status}: {body[:300]!r}")

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(32)))
    return (time.process_time() - started) / n * 1e6


async def get_figures(n: int, home: Path) -> dict[str, float]:
    """µs of CPU per GET of each query measure, and of the trivial app's GET."""
    figures: dict[str, float] = {}
    with EmbeddedPostgres(home / "pg") as postgres:
        os.environ["DATABASE_URL"] = postgres.create_database("bench")
        await run_migrate(Settings())
        paths = get_paths(await seed_views(os.environ["DATABASE_URL"]))
        async with bootstrap(Settings(), name="bench-api") as parts:
            app = await api_app(parts)
            settle_heap()  # as `tally api` does once started
            for key, targets in paths.items():
                make = _gets(targets)
                for target in targets:  # warm: every row in the row cache, as the lists are
                    await call(app, "GET", target)
                await cpu_per_request(app, make, 500)  # warm: connections, prepared statements
                figures[f"GET {key}"] = await cpu_per_request(app, make, n)
        os.environ.pop("DATABASE_URL")
    figures["trivial GET"] = await cpu_per_request(trivial_app, _gets(paths["get"]), n)
    return figures


def _gets(targets: list[str]) -> Callable[[], tuple[str, str, bytes]]:
    return lambda: ("GET", random.choice(targets), b"")


async def main(n: int, gets: bool) -> None:
    configure_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: ASYNC230, SIM115 (once, at start)
    receive = json.dumps({"quantity": 1}).encode()
    order = json.dumps(ORDER).encode()
    firsts = itertools.count(1)

    def stock() -> tuple[str, str, bytes]:
        return "POST", f"/stock/SKU-{random.randint(1, SKUS)}/receive", receive

    def first_stock() -> tuple[str, str, bytes]:  # a SKU never seen: read before deciding
        return "POST", f"/stock/NEW-{next(firsts)}/receive", receive

    figures: dict[str, float] = {}
    with scratch_dir() as home, EmbeddedNats(home / "nats") as server:
        os.environ["NATS_URL"] = server.url
        os.environ.pop("DATABASE_URL", None)
        if gets:
            figures = await get_figures(n, home)
            for name, value in figures.items():
                print(f"{name:<28} {value:7.0f} µs CPU/request")
            return
        settings = Settings()
        await run_migrate(settings)
        async with bootstrap(settings, name="bench-api") as parts:
            app = await api_app(parts)
            settle_heap()  # as `tally api` does once started
            for sku in range(1, SKUS + 1):  # warm: every SKU folded once (cached)
                await call(app, "POST", f"/stock/SKU-{sku}/receive", receive)
            await cpu_per_request(app, stock, 1000)
            figures["POST /stock/{sku}/receive"] = await cpu_per_request(app, stock, n)
            figures["  ... on a SKU not yet seen"] = await cpu_per_request(app, first_stock, n)
            figures["POST /orders"] = await cpu_per_request(
                app, lambda: ("POST", "/orders", order), n
            )
    figures["trivial POST"] = await cpu_per_request(
        trivial_app, lambda: ("POST", "/orders", order), n
    )
    for name, value in figures.items():
        print(f"{name:<28} {value:7.0f} µs CPU/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--gets", action="store_true", help="the query routes instead")
    args = parser.parse_args()
    sys.exit(uvloop.run(main(args.requests, args.gets)))
