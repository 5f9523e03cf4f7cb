"""`tally up` from the outside: embedded servers, a command over HTTP, the event on NATS
seen by a plain nats-py client, a clean stop on SIGINT, and data that survives a restart."""

import json
from collections.abc import Iterator

import httpx
import nats
import pytest

from support.tally_process import RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def tally_up() -> Iterator[RunningTally]:
    with running_tally(free_port()) as running:
        yield running


async def test_place_an_order_and_see_the_event_on_nats(tally_up: RunningTally) -> None:
    async with httpx.AsyncClient(base_url=tally_up.base) as http:
        assert (await http.post("/stock/S1/receive", json={"quantity": 5})).status_code == 202
        order = {"customer_id": "c1", "lines": [{"sku": "S1", "quantity": 1, "unit_price": "5"}]}
        answer = await http.post("/orders", json=order, headers={"X-Correlation-ID": "e2e-1"})
    assert answer.status_code == 202
    order_id = answer.json()["order_id"]
    placed_at = int(answer.json()["position"].split(":")[1])

    nc = await nats.connect(tally_up.nats_url())
    try:
        message = await nc.jetstream().get_msg("ORDERS", placed_at)
    finally:
        await nc.close()
    assert message.headers is not None
    assert message.subject == f"orders.{order_id}"
    assert message.headers["Tally-Event-Type"] == "OrderPlaced"
    assert message.headers["Tally-Correlation-Id"] == "e2e-1"
    assert json.loads(message.data or b"")["total"] == "5.00"

    assert tally_up.stop() == 0
    # The same data dir again: the stream still holds the order.
    again = RunningTally(tally_up.data_dir, free_port(), tally_up.log)
    try:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.base) as http:
            cancel = await http.post(f"/orders/{order_id}/cancel", json={})
        # Whatever fulfilment did meanwhile, the order is still there to be cancelled.
        assert cancel.status_code == 202, cancel.text
        stream, seq = cancel.json()["position"].split(":")
        assert stream == "ORDERS" and int(seq) > placed_at
        assert again.stop() == 0
    finally:
        again.shut_down()
