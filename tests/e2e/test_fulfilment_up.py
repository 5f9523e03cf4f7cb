"""`tally up` fulfils orders on its own: placed over HTTP, final in the read model."""

import asyncio
import time

import httpx
import pytest

from support.tally_process import running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e


async def final_status(http: httpx.AsyncClient, order_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = await http.get(f"/orders/{order_id}")
        if answer.status_code == 200 and answer.json()["status"] != "pending":
            body: dict[str, object] = answer.json()
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} still pending")


async def breaker_detail(http: httpx.AsyncClient) -> str:
    deadline = time.monotonic() + 20
    while True:
        detail: str = (await http.get("/ready")).json()["checks"]["payment_breaker"]["detail"]
        if "reported yet" not in detail or time.monotonic() > deadline:
            return detail
        await asyncio.sleep(0.1)


async def test_orders_placed_over_http_reach_their_final_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALLY_PAYMENT_LIMIT", "100")
    with running_tally(free_port()) as tally:
        async with httpx.AsyncClient(base_url=tally.base) as http:
            # the breaker as the fulfilment process (a process of its own) publishes it
            assert (await breaker_detail(http)).startswith("closed")
            await http.post("/stock/S1/receive", json={"quantity": 2})

            async def place(quantity: int, price: str) -> str:
                line = {"sku": "S1", "quantity": quantity, "unit_price": price}
                answer = await http.post("/orders", json={"customer_id": "c", "lines": [line]})
                assert answer.status_code == 202, answer.text
                order_id: str = answer.json()["order_id"]
                return order_id

            fits = await place(1, "100.00")
            too_many = await place(5, "1.00")
            too_dear = await place(1, "100.01")
            assert (await final_status(http, fits))["status"] == "confirmed"
            rejected = {
                order_id: (await final_status(http, order_id))["reason"]
                for order_id in (too_many, too_dear)
            }
            assert rejected == {too_many: "out_of_stock", too_dear: "payment_declined"}
            metrics = (await http.get("/metrics")).text
            # the API serves the other roles' samples too, labelled by role
            assert 'tally_fulfilment_orders_total{outcome="confirmed",role="fulfil"} 1.0' in metrics
            assert 'tally_projection_position{projection="orders",role="project"}' in metrics
        assert tally.stop() == 0
