"""`tally up` end to end on the read side: a write is visible to the read that names its
position; `tally replay` rebuilds a view while the API keeps answering."""

import asyncio
import os
import subprocess
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from support.tally_process import TALLY, RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tally_up() -> Iterator[RunningTally]:
    with running_tally(free_port()) as running:
        yield running


async def test_post_then_get_with_after_shows_the_write(tally_up: RunningTally) -> None:
    async with httpx.AsyncClient(base_url=tally_up.base, timeout=10) as http:
        received = (await http.post("/stock/RYW-1/receive", json={"quantity": 7})).json()
        stock = await http.get("/stock/RYW-1", params={"after": received["position"]})
        assert stock.status_code == 200, stock.text
        assert stock.json() == {
            "sku": "RYW-1",
            "on_hand": 7,
            "reserved": 0,
            "available": 7,
            "version": 1,
        }
        line = {"sku": "RYW-1", "quantity": 2, "unit_price": "4.25"}
        placed = (await http.post("/orders", json={"customer_id": "r", "lines": [line]})).json()
        order = await http.get(
            f"/orders/{placed['order_id']}", params={"after": placed["position"]}
        )
        assert order.status_code == 200, order.text
        assert order.json()["total"] == "8.50" and order.json()["customer_id"] == "r"
        events = (await http.get(f"/orders/{placed['order_id']}/events")).json()["items"]
        assert events[0]["type"] == "OrderPlaced"
        projections = (await http.get("/projections")).json()["items"]
        assert {item["name"] for item in projections} == {"orders", "stock"}


async def test_replay_while_the_api_answers(tally_up: RunningTally) -> None:
    async with httpx.AsyncClient(base_url=tally_up.base, timeout=10) as http:
        for index in range(20):
            body = {
                "customer_id": f"p{index}",
                "lines": [{"sku": "RP", "quantity": 1, "unit_price": "1"}],
            }
            last = (await http.post("/orders", json=body)).json()["position"]
        before = (await http.get("/orders", params={"limit": 500, "after": last})).json()
        env = os.environ | {
            "NATS_URL": tally_up.nats_url(),
            "DATABASE_URL": tally_up.database_url(),
        }
        replay = await asyncio.create_subprocess_exec(
            TALLY,
            "replay",
            "orders",
            "--yes",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        statuses = []
        finished = asyncio.create_task(replay.wait())
        while not finished.done():  # the API keeps answering during the replay
            statuses.append((await http.get("/orders", params={"limit": 50})).status_code)
            await asyncio.sleep(0.01)
        output = (await replay.stdout.read()).decode() if replay.stdout else ""
        assert replay.returncode == 0, output
        assert "swapped in" in output
        assert set(statuses) == {200}
        after = (await http.get("/orders", params={"limit": 500})).json()
    fulfilled = {item["order_id"] for item in after["items"]}
    assert {item["order_id"] for item in before["items"]} <= fulfilled


async def _tally_replay(running: RunningTally, *args: str) -> tuple[int, str]:
    env = os.environ | {"NATS_URL": running.nats_url(), "DATABASE_URL": running.database_url()}
    done = await asyncio.create_subprocess_exec(
        TALLY,
        "replay",
        *args,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await done.communicate()
    return int(done.returncode or 0), output.decode()


async def test_replay_check_exits_3_on_a_difference(tally_up: RunningTally) -> None:
    async with httpx.AsyncClient(base_url=tally_up.base, timeout=10) as http:
        received = (await http.post("/stock/CHECK-1/receive", json={"quantity": 3})).json()
        await http.get("/stock/CHECK-1", params={"after": received["position"]})
    code, output = await _tally_replay(tally_up, "stock", "--check")
    assert code == 0 and "identical" in output and "dropped" in output, output
    conn = await asyncpg.connect(tally_up.database_url())
    try:
        await conn.execute("UPDATE stock_items SET on_hand = on_hand + 1 WHERE sku = 'CHECK-1'")
    finally:
        await conn.close()
    code, output = await _tally_replay(tally_up, "stock", "--check")
    assert code == 3 and "DIFFERENT" in output and "CHECK-1 on_hand: '4' -> '3'" in output, output
    code, output = await _tally_replay(tally_up, "stock", "--expect-equal")
    assert code == 3 and "not swapped" in output, output
    code, output = await _tally_replay(tally_up, "stock", "--yes")
    assert code == 0 and "swapped in" in output, output
    code, output = await _tally_replay(tally_up, "stock", "--check")
    assert code == 0 and "identical" in output, output
