"""The workers' own HTTP port (TALLY_METRICS_PORT): `/metrics`, `/health`, and a `/ready`
of their own (NATS, and the projector's PostgreSQL and projections; the fulfilment's
breaker), for an orchestrator's probes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from support.roles import Role, migrate, role_env
from tally.embedded.ports import free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("role", "checks"),
    [
        ("project", {"nats", "postgres", "projections"}),
        ("fulfil", {"nats", "payment_breaker"}),
    ],
)
async def test_a_worker_answers_probes(
    nats_url: str, database_url: str, tmp_path: Path, role: str, checks: set[str]
) -> None:
    port = free_port()
    env = role_env(nats_url, database_url, TALLY_METRICS_PORT=str(port))
    await asyncio.to_thread(migrate, env)
    worker = Role([role], env, tmp_path / f"{role}.log").start()
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(worker.wait_http, base, "/health")
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            ready = await http.get("/ready")
            assert ready.status_code == 200, ready.text
            assert set(ready.json()["checks"]) == checks
            assert all(check["ok"] for check in ready.json()["checks"].values())
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200 and "# TYPE" in metrics.text
    finally:
        worker.stop()
    assert worker.wait_exit(20) == 0, worker.tail()
