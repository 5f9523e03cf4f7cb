"""Orders confirmed per second, end to end: wrk POSTs 2-line orders over 100 SKUs to
`tally api`; `tally fulfil` (its own process) reserves, takes the simulated payment and
confirms. The figure is confirmed orders / (last confirmation - first placement), read from
the ORDERS stream live; the lag is placement -> confirmation by JetStream timestamps.

    .venv/bin/python -m bench.fulfilment_rate [--runs 3] [--seconds 10] [--connections 32]
        [--fulfil 1] [--drain]
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path

import httpx
import nats
import uvloop
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from bench.harness import VENV_BIN, Figure, port, print_table, process, scratch_dir, wrk
from tally.embedded.nats_server import EmbeddedNats

SKUS = 100
PLACE = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local a = math.random(1, {SKUS})
  local b = math.random(1, {SKUS - 1})
  if b >= a then b = b + 1 end
  local body = '{{"customer_id":"bench","lines":[' ..
    '{{"sku":"SKU-' .. a .. '","quantity":1,"unit_price":"1.00"}},' ..
    '{{"sku":"SKU-' .. b .. '","quantity":1,"unit_price":"2.50"}}]}}'
  return wrk.format(nil, "/orders", nil, body)
end
"""


class Watch:
    """Counts placements and decisions on ORDERS as they are stored."""

    def __init__(self) -> None:
        self.placed: dict[str, datetime] = {}
        self.lags: list[float] = []
        self.confirmed = self.rejected = 0
        self.first = self.first_decided = self.last = 0.0

    async def on_message(self, msg: Msg) -> None:
        kind = (msg.headers or {}).get("Tally-Event-Type")
        stamp = msg.metadata.timestamp
        if kind == "OrderPlaced":
            self.first = self.first or time.monotonic()
            self.placed[msg.subject] = stamp
        elif kind in ("OrderConfirmed", "OrderRejected"):
            self.confirmed += kind == "OrderConfirmed"
            self.rejected += kind == "OrderRejected"
            self.last = time.monotonic()
            self.first_decided = self.first_decided or self.last
            if msg.subject in self.placed:
                self.lags.append((stamp - self.placed[msg.subject]).total_seconds())


class Workers:
    """The `tally fulfil` processes."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.count, self.env = count, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        tally = str(VENV_BIN / "tally")
        self.procs = [subprocess.Popen([tally, "fulfil"], env=self.env) for _ in range(self.count)]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(30)
        self.procs = []


async def measure(
    nats_url: str, api: str, seconds: int, connections: int, drain: Workers | None
) -> tuple[float, Watch]:
    """Orders placed by wrk while fulfilment runs; with `drain`, fulfilment starts only
    once wrk is done, and the rate is from its first decision to its last."""
    nc = await nats.connect(nats_url)
    watch = Watch()
    js = nc.jetstream()
    subscription = await js.subscribe(
        "orders.*", cb=watch.on_message, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    requests = await asyncio.to_thread(wrk, api, PLACE, seconds=seconds, connections=connections)
    placed = round(requests * seconds)
    if drain is not None:
        await asyncio.to_thread(drain.start)
    deadline = time.monotonic() + 300
    while watch.confirmed + watch.rejected < len(watch.placed) or len(watch.placed) < placed * 0.9:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not settled: {watch.confirmed} of {len(watch.placed)}")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    if drain is not None:
        await asyncio.to_thread(drain.stop)
        watch.first = watch.first_decided
    await subscription.unsubscribe()
    await nc.close()
    return requests, watch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--fulfil", type=int, default=1, help="tally fulfil processes")
    parser.add_argument(
        "--drain", action="store_true", help="place first, then fulfil (fulfilment alone)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/fulfilment_rate.json"))
    args = parser.parse_args()
    what = "drained" if args.drain else "e2e"
    confirmed = Figure(
        f"orders confirmed/s {what}, {SKUS} SKUs, 2 lines, {args.fulfil} fulfil", "orders/s"
    )
    accepted = Figure(f"POST /orders accepted, {args.connections} conns", "req/s")
    with scratch_dir() as home:
        server = EmbeddedNats(home / "nats")
        server.start()
        env = {
            **os.environ,
            "NATS_URL": server.url,
            "TALLY_LOG_LEVEL": "warning",
            # A backlog must not turn into payment_unavailable rejections: this measures
            # throughput, not the deadline.
            "TALLY_PAYMENT_DEADLINE_SECONDS": "3600",
        }
        env.pop("DATABASE_URL", None)
        subprocess.run([str(VENV_BIN / "tally"), "migrate"], env=env, check=True)
        api_port = port()
        api = f"http://127.0.0.1:{api_port}"
        workers = Workers(args.fulfil, env)
        if not args.drain:
            workers.start()
        try:
            with process([str(VENV_BIN / "tally"), "api", "--port", str(api_port)], env, api):
                for sku in range(1, SKUS + 1):
                    answer = httpx.post(f"{api}/stock/SKU-{sku}/receive", json={"quantity": 10**8})
                    answer.raise_for_status()
                for _ in range(args.runs):
                    rate, watch = uvloop.run(
                        measure(
                            server.url,
                            api,
                            args.seconds,
                            args.connections,
                            workers if args.drain else None,
                        )
                    )
                    accepted.runs.append(rate)
                    confirmed.runs.append(watch.confirmed / (watch.last - watch.first))
                    lags = sorted(watch.lags)
                    print(
                        f"run: {watch.confirmed} confirmed, {watch.rejected} rejected, "
                        f"lag p50 {statistics.median(lags):.2f} s, "
                        f"p99 {lags[int(len(lags) * 0.99)]:.2f} s"
                    )
        finally:
            workers.stop()
            server.stop()
    print_table([(confirmed, accepted), (accepted, None)], args.out)


if __name__ == "__main__":
    main()
