"""One request followed through every process by its correlation id: the API that appended
the command, the fulfilment process that acted on it, the projector that applied it."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.roles import role_env
from support.stack import running_stack

pytestmark = pytest.mark.e2e
TRACE = "trace-7f3a"


def lines_with(log: Path, needle: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if needle in line and line.startswith("{"):
            found.append(json.loads(line))
    return found


async def test_grep_one_correlation_id_across_all_processes(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    env = role_env(nats_url, database_url)
    async with running_stack(env, tmp_path) as stack:
        async with httpx.AsyncClient(base_url=stack.base, timeout=10) as http:
            received = await http.post("/stock/TRACED/receive", json={"quantity": 3})
            assert received.status_code == 202
            placed = await http.post(
                "/orders",
                json={
                    "customer_id": "c",
                    "lines": [{"sku": "TRACED", "quantity": 1, "unit_price": "2.50"}],
                },
                headers={"X-Correlation-ID": TRACE},
            )
            assert placed.status_code == 202
            assert placed.headers["x-correlation-id"] == TRACE
            order_id = placed.json()["order_id"]
            for _ in range(50):  # the confirmation comes from fulfilment, then the projector
                view = await http.get(
                    f"/orders/{order_id}", params={"after": placed.json()["position"]}
                )
                if view.status_code == 200 and view.json()["status"] == "confirmed":
                    break
                await asyncio.sleep(0.2)
            assert view.json()["status"] == "confirmed", view.text
            events = (await http.get(f"/orders/{order_id}/events")).json()["items"]
        for role in stack.roles:
            role.stop()

    assert {event["correlation_id"] for event in events} == {TRACE}
    api = lines_with(stack.api.log, TRACE)
    assert any(line["event"] == "command appended" for line in api), stack.api.tail()
    fulfil = lines_with(stack.fulfil.log, TRACE)
    assert fulfil, stack.fulfil.tail()
    project = lines_with(stack.project.log, TRACE)
    assert any(line["event"] == "batch applied" for line in project), stack.project.tail()
    for line in (*api, *fulfil):
        assert line.get("correlation_id") == TRACE
