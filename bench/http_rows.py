"""wrk scripts for the command rows (the query rows are `query_rows.py`'s), the trivial
baseline server, and waiting until the roles have caught up with everything the API
appended."""

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import nats

from bench.append_rate import RECEIVE
from bench.fulfilment_rate import PLACE, SKUS
from bench.harness import port, process, uvicorn_app

__all__ = ["PLACE", "RECEIVE", "SKUS", "seed_stock", "settle"]
__all__ += ["trivial_app"]


def seed_stock(api: str) -> None:
    """Plenty of stock on the SKUs that the orders name, so that fulfilment confirms."""
    with httpx.Client(base_url=api) as client:
        for sku in range(1, SKUS + 1):
            answer = client.post(f"/stock/SKU-{sku}/receive", json={"quantity": 10**8})
            answer.raise_for_status()


@contextmanager
def trivial_app() -> Iterator[str]:
    """The baseline Starlette app under the same uvicorn settings as `tally api`."""
    app_port = port()
    url = f"http://127.0.0.1:{app_port}"
    with process(uvicorn_app("bench.trivial_app:app", app_port), {}, f"{url}/orders/x"):
        yield url


async def settle(nats_url: str, dsn: str, timeout: float = 600) -> None:
    """Until the projections have applied the last event of ORDERS and STOCK and the
    fulfilment consumer has nothing pending or unacknowledged, twice in a row."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    conn = await asyncpg.connect(dsn)
    deadline = time.monotonic() + timeout
    quiet = 0
    try:
        while quiet < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the roles did not catch up")
            applied = dict(await conn.fetch("SELECT name, position FROM projection_checkpoints"))
            orders = (await js.stream_info("ORDERS")).state.last_seq
            stock = (await js.stream_info("STOCK")).state.last_seq
            fulfilment = await js.consumer_info("ORDERS", "fulfilment")
            done = (
                applied.get("orders", 0) >= orders
                and applied.get("stock", 0) >= stock
                and fulfilment.num_pending == 0
                and fulfilment.num_ack_pending == 0
            )
            quiet = quiet + 1 if done else 0
            await asyncio.sleep(0.25)
    finally:
        await conn.close()
        await nc.close()
