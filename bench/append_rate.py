"""POST /stock/{sku}/receive at 32 connections beside raw js.publish and a trivial Starlette
POST app, in one run on one machine.

    .venv/bin/python -m bench.append_rate [--runs 3] [--seconds 10] [--sync-always]
"""

import argparse
import asyncio
import time
from pathlib import Path

import nats
import uvloop

from bench.harness import (
    VENV_BIN,
    Figure,
    port,
    print_table,
    process,
    scratch_dir,
    uvicorn_app,
    wrk,
)
from tally.embedded.nats_server import EmbeddedNats

RECEIVE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"quantity": 1}'
request = function()
  return wrk.format(nil, "/stock/SKU-" .. math.random(1, 1000) .. "/receive")
end
"""


async def raw_publish(url: str, seconds: float, concurrency: int) -> float:
    """js.publish with `concurrency` appends in flight, like 32 HTTP clients would have."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="RAW", subjects=["raw.*"])
    count = 0
    deadline = time.monotonic() + seconds

    async def worker(index: int) -> None:
        nonlocal count
        while time.monotonic() < deadline:
            await js.publish(f"raw.{index % 1000}", b'{"quantity": 1}' * 4)
            count += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    rate = count / (time.monotonic() - started)
    await js.delete_stream("RAW")
    await nc.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--sync-always", action="store_true", help="fsync every JetStream write")
    parser.add_argument("--out", type=Path, default=Path("bench/results/append_rate.json"))
    args = parser.parse_args()
    tally = Figure("POST /stock/{sku}/receive, 32 conns, 1000 SKUs", "req/s")
    trivial = Figure("trivial Starlette POST, 32 conns", "req/s")
    raw = Figure("raw js.publish, 32 in flight", "msg/s")
    with scratch_dir() as home:
        server = EmbeddedNats(home / "nats", sync_always=args.sync_always)
        server.start()
        env = {"NATS_URL": server.url, "TALLY_LOG_LEVEL": "warning"}
        import subprocess

        subprocess.run(
            [str(VENV_BIN / "tally"), "migrate"],
            env={**__import__("os").environ, **env},
            check=True,
        )
        for _ in range(args.runs):
            api_port = port()
            with process(
                [str(VENV_BIN / "tally"), "api", "--port", str(api_port)],
                env,
                f"http://127.0.0.1:{api_port}/health",
            ):
                tally.runs.append(
                    wrk(f"http://127.0.0.1:{api_port}", RECEIVE, seconds=args.seconds)
                )
            app_port = port()
            with process(
                uvicorn_app("bench.trivial_app:app", app_port),
                {},
                f"http://127.0.0.1:{app_port}/orders/x",
            ):
                trivial.runs.append(
                    wrk(f"http://127.0.0.1:{app_port}", RECEIVE, seconds=args.seconds)
                )
            raw.runs.append(uvloop.run(raw_publish(server.url, args.seconds, 32)))
        server.stop()
    durability = "fsync every write" if args.sync_always else "JetStream default sync (2 min)"
    print(f"\nJetStream durability: {durability}")
    print_table([(tally, trivial), (tally, raw), (trivial, None), (raw, None)], args.out)


if __name__ == "__main__":
    main()
