"""Scenario 6, hostile HTTP: 10k requests of random bytes, truncated bodies, huge headers,
malformed and oversized bodies, plus slowloris-style slow headers and bodies, against a
real `tally api`: no 5xx, no crash, and a well-behaved client is answered all along."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from support.fault_report import FaultReport
from support.hostile_http import KINDS, payload, send, slow
from support.roles import api_role, migrate, role_env
from tally.embedded.ports import free_port

pytestmark = pytest.mark.faults
REQUESTS = 10_000
CONCURRENCY = 40
SLOW_CLIENTS = 60


async def good_client(base: str, stop: asyncio.Event, answers: list[tuple[int, float]]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while not stop.is_set():
            for method, path, body in [
                ("GET", "/health", None),
                ("POST", "/stock/good/receive", {"quantity": 1}),
                ("GET", "/orders?limit=1", None),  # a query: PostgreSQL
            ]:
                started = time.monotonic()
                try:
                    status = (await client.request(method, path, json=body)).status_code
                except httpx.HTTPError:
                    status = 0
                answers.append((status, time.monotonic() - started))
            await asyncio.sleep(0.05)


async def test_hostile_http_gets_no_500_and_others_are_still_answered(
    nats_url: str, database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    env = role_env(nats_url, database_url)
    await asyncio.to_thread(migrate, env)
    port = free_port("127.0.0.1")
    api = api_role(env, port, tmp_path / "api.log")
    api.start()
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(api.wait_http, base, "/ready", 60)
        pid, rng = api.pid, random.Random(11)
        statuses: dict[str, Counter[int | None]] = {kind: Counter() for kind in KINDS}
        slow_statuses: Counter[int | None] = Counter()
        good: list[tuple[int, float]] = []
        stop = asyncio.Event()
        goodie = asyncio.create_task(good_client(base, stop, good))
        loop = asyncio.get_running_loop()
        slow_until = loop.time() + 10
        slowloris = []
        for index in range(SLOW_CLIENTS):
            kind = "huge-header" if index % 2 else "malformed"
            data, _ = payload("truncated" if index % 3 == 0 else kind, rng)
            slowloris.append(slow(port, data[:400], 0.25, slow_until))
        slow_task = asyncio.gather(*slowloris)
        queue = iter(range(REQUESTS))
        started = time.monotonic()

        async def hostile() -> None:
            for n in queue:
                kind = KINDS[n % len(KINDS)]
                data, upto = payload(kind, rng)
                statuses[kind][await send(port, data, upto)] += 1

        async with asyncio.timeout(150):
            await asyncio.gather(*(hostile() for _ in range(CONCURRENCY)))
            slow_statuses.update(await slow_task)
        took = time.monotonic() - started
        report.fault(f"{REQUESTS} hostile requests in {took:.1f} s", REQUESTS)
        report.fault(f"{SLOW_CLIENTS} slowloris connections for 10 s", SLOW_CLIENTS)
        await asyncio.sleep(0.5)
        stop.set()
        await goodie
        assert api.alive and api.pid == pid, api.tail()
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            after = await client.post("/stock/good/receive", json={"quantity": 1})
        assert after.status_code == 202
    finally:
        api.kill()
    every = Counter[int | None]()
    for counter in [*statuses.values(), slow_statuses]:
        every.update(counter)
    fivexx = {status: n for status, n in every.items() if status is not None and status >= 500}
    assert fivexx == {}, statuses
    assert "unexpected error" not in api.tail(200_000)
    good_statuses = Counter(status for status, _ in good)
    assert set(good_statuses) <= {200, 202}, good_statuses
    slowest = max(took for _, took in good)
    assert slowest < 5.0, slowest
    for kind, counter in statuses.items():
        report.figure(kind, dict(sorted(counter.items(), key=lambda item: str(item[0]))))
    report.figure("slowloris", dict(sorted(slow_statuses.items(), key=lambda i: str(i[0]))))
    report.figure("good_client", f"{len(good)} answered, slowest {slowest:.2f}s")
    report.figure("5xx", 0)
    report.note("None = the server closed the connection without an answer (garbage in)")
