"""Read-your-writes latency, one request at a time: POST /orders, then GET /orders/{id}
with `after=<position>` (answered once the orders projection applied it), beside the raw
path: js.publish -> ordered consumer callback -> single-row upsert committed."""

import asyncio
import time
from urllib.parse import urlencode, urlsplit
from uuid import uuid4

import asyncpg
import nats
from nats.aio.msg import Msg

from chaos.soak_http import Connection

ORDER = {"customer_id": "latency", "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": "1.00"}]}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def tally_latency(api: str, count: int) -> list[float]:
    """Seconds from sending POST /orders to the GET `after=` answer, `count` times, on one
    kept-alive connection of a lean client (`chaos.soak_http`: httpx spent 1-5 ms of CPU
    per request on this machine, which the figure measured as Tally's)."""
    url = urlsplit(api)
    client = Connection(url.hostname or "127.0.0.1", url.port or 80)
    samples: list[float] = []
    try:
        for index in range(count + 5):
            started = time.perf_counter()
            status, answer = await client.post("/orders", ORDER)
            if status != 202:
                raise RuntimeError(f"POST /orders answered {status}: {answer}")
            query = urlencode({"after": answer["position"]})
            status, seen = await client.get(f"/orders/{answer['order_id']}?{query}")
            if status != 200:
                raise RuntimeError(f"GET after= answered {status}: {seen}")
            if index >= 5:  # the first few warm the connection
                samples.append(time.perf_counter() - started)
    finally:
        client.close()
    return samples


async def raw_latency(nats_url: str, dsn: str, count: int) -> list[float]:
    """Seconds from js.publish to the single-row upsert committed by the consumer."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"RAWLAT{uuid4().hex[:6]}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.*"])
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_latency (k text PRIMARY KEY, n bigint, seq bigint,"
        " at timestamptz DEFAULT now())"
    )
    waiting: dict[str, asyncio.Future[None]] = {}

    async def applied(msg: Msg) -> None:
        key = msg.subject.rsplit(".", 1)[1]
        await conn.execute(
            "INSERT INTO bench_latency AS b (k, n, seq) VALUES ($1, 1, $2) ON CONFLICT (k)"
            " DO UPDATE SET n = b.n + 1, seq = EXCLUDED.seq, at = now()",
            key,
            msg.metadata.sequence.stream,
        )
        future = waiting.pop(key, None)
        if future is not None:
            future.set_result(None)

    subscription = await js.subscribe(f"{stream.lower()}.*", cb=applied, ordered_consumer=True)
    samples: list[float] = []
    try:
        for index in range(count + 5):
            key = f"k{index}"
            future = waiting[key] = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await js.publish(f"{stream.lower()}.{key}", b'{"customer_id": "latency"}')
            await asyncio.wait_for(future, 30)
            if index >= 5:
                samples.append(time.perf_counter() - started)
    finally:
        await subscription.unsubscribe()
        await js.delete_stream(stream)
        await conn.execute("DROP TABLE IF EXISTS bench_latency")
        await conn.close()
        await nc.close()
    return samples
