"""The command routes of SPEC §3 over HTTP, against a real JetStream."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS

from tally.bootstrap import bootstrap
from tally.http.app import create_api_app
from tally.roles.migrate import migrate_streams
from tally.settings import Settings

pytestmark = pytest.mark.integration
ORDER = {"customer_id": "c1", "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "12.50"}]}


@pytest.fixture
async def client(nc: NATS) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings()
    await migrate_streams(nc, settings)
    async with bootstrap(settings, name="test-api", nats=nc) as parts:
        routes = await parts.command_routes()
        app = create_api_app(routes=routes.routes(), checks={})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
            yield http


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + code)
    assert body["title"] and body["detail"]
    return body


async def test_place_order(client: httpx.AsyncClient, nc: NATS) -> None:
    response = await client.post("/orders", json=ORDER, headers={"X-Correlation-ID": "req-1"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["position"] == "ORDERS:1"
    assert response.headers["location"] == f"/orders/{body['order_id']}"
    assert response.headers["x-correlation-id"] == "req-1"
    message = await nc.jetstream().get_last_msg("ORDERS", f"orders.{body['order_id']}")
    assert message.headers is not None
    assert message.headers["Tally-Event-Type"] == "OrderPlaced"
    assert message.headers["Tally-Correlation-Id"] == "req-1"
    assert json.loads(message.data or b"") == {
        "customer_id": "c1",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "12.50"}],
        "total": "25.00",
    }


async def test_a_correlation_id_is_made_when_absent(client: httpx.AsyncClient) -> None:
    response = await client.post("/stock/A/receive", json={"quantity": 1})
    assert len(response.headers["x-correlation-id"]) == 36


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"customer_id": "c1",}', b"\xff\xfe", b""],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    assert_problem(await client.post("/orders", content=raw), 400, "malformed-json")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"customer_id", "lines"}),
        ([], {"body"}),
        ("x", {"body"}),
        ({**ORDER, "extra": 1}, {"extra"}),
        ({**ORDER, "lines": []}, {"lines"}),
        ({**ORDER, "currency": "euro"}, {"currency"}),
        ({**ORDER, "customer_id": ""}, {"customer_id"}),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": 0, "unit_price": "1"}]},
            {"lines.0.quantity"},
        ),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": "2", "unit_price": "1"}]},
            {"lines.0.quantity"},
        ),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": 1.5, "unit_price": "1"}]},
            {"lines.0.quantity"},
        ),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": True, "unit_price": "1"}]},
            {"lines.0.quantity"},
        ),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.001"}]},
            {"lines.0.unit_price"},
        ),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": 1, "unit_price": "-1"}]},
            {"lines.0.unit_price"},
        ),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": 1, "unit_price": 1.5}]},
            {"lines.0.unit_price"},
        ),
        ({**ORDER, "lines": [{"sku": "a.b", "quantity": 1, "unit_price": "1"}]}, {"lines.0.sku"}),
        ({**ORDER, "lines": [{"sku": "A", "quantity": 1}]}, {"lines.0.unit_price"}),
        (
            {**ORDER, "lines": [{"sku": "A", "quantity": 1, "unit_price": "1", "x": 1}]},
            {"lines.0.x"},
        ),
        ({**ORDER, "lines": "A"}, {"lines"}),
    ],
)
async def test_invalid_fields_are_422_naming_each_field(
    client: httpx.AsyncClient, body: Any, fields: set[str]
) -> None:
    problem = assert_problem(await client.post("/orders", json=body), 422, "validation-failed")
    assert {error["field"] for error in problem["errors"]} == fields


async def test_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    big = {"customer_id": "c" * 70_000, "lines": []}
    assert_problem(await client.post("/orders", json=big), 413, "payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
        for _ in range(70):
            yield b" " * 1024

    assert_problem(await client.post("/orders", content=chunks()), 413, "payload-too-large")


async def test_unknown_orders_are_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(f"/orders/{uuid4()}/cancel", json={}), 404, "not-found")
    assert_problem(await client.post("/orders/not-a-uuid/ship", json={}), 404, "not-found")
    assert_problem(await client.post("/nowhere", json={}), 404, "not-found")


async def test_cancel_then_refuse_because_final(client: httpx.AsyncClient) -> None:
    order_id = (await client.post("/orders", json=ORDER)).json()["order_id"]
    cancelled = await client.post(f"/orders/{order_id}/cancel", json={"reason": "changed mind"})
    assert cancelled.status_code == 202
    assert cancelled.json() == {"order_id": order_id, "position": "ORDERS:2"}
    assert_problem(await client.post(f"/orders/{order_id}/cancel"), 409, "order-final")
    assert_problem(
        await client.post(f"/orders/{order_id}/cancel", json={"reason": "x" * 501}),
        422,
        "validation-failed",
    )


async def test_ship_needs_confirmation(client: httpx.AsyncClient) -> None:
    order_id = (await client.post("/orders", json=ORDER)).json()["order_id"]
    assert_problem(
        await client.post(f"/orders/{order_id}/ship", json={}), 409, "invalid-order-state"
    )
    assert_problem(
        await client.post(f"/orders/{order_id}/ship", json={"x": 1}), 422, "validation-failed"
    )


async def test_receive_and_adjust_stock(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/stock/NEW/adjust", json={"delta": 1, "reason": "r"}), 404, "not-found"
    )
    received = await client.post("/stock/NEW/receive", json={"quantity": 5})
    assert received.status_code == 202
    assert received.json() == {"sku": "NEW", "position": "STOCK:1"}
    adjusted = await client.post("/stock/NEW/adjust", json={"delta": -5, "reason": "count"})
    assert adjusted.json() == {"sku": "NEW", "position": "STOCK:2"}
    assert_problem(
        await client.post("/stock/NEW/adjust", json={"delta": -1, "reason": "count"}),
        409,
        "insufficient-stock",
    )
    for bad in ({"delta": 0, "reason": "r"}, {"delta": 1}, {"delta": "1", "reason": "r"}):
        assert_problem(await client.post("/stock/NEW/adjust", json=bad), 422, "validation-failed")
    for bad_quantity in ({"quantity": 0}, {"quantity": -1}, {}, {"quantity": None}):
        assert_problem(
            await client.post("/stock/NEW/receive", json=bad_quantity), 422, "validation-failed"
        )


@pytest.mark.parametrize("sku", ["a.b", "a%2Ab", "%3E", "a%20b", "x" * 65])
async def test_skus_that_are_not_subject_tokens_are_422(
    client: httpx.AsyncClient, sku: str
) -> None:
    problem = assert_problem(
        await client.post(f"/stock/{sku}/receive", json={"quantity": 1}), 422, "validation-failed"
    )
    assert problem["errors"][0]["field"] == "sku"


async def test_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, nc: NATS
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await client.post("/orders", json=ORDER, headers=headers)
    spaced = json.dumps(ORDER, indent=4).encode()
    again = await client.post("/orders", content=spaced, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    info = await nc.jetstream().stream_info("ORDERS")
    assert info.state.messages == 1
    other = await client.post("/orders", json={**ORDER, "customer_id": "c2"}, headers=headers)
    assert_problem(other, 422, "idempotency-key-reused")
    elsewhere = await client.post("/stock/A/receive", json={"quantity": 1}, headers=headers)
    assert elsewhere.status_code == 202  # keys are scoped by route


async def test_idempotency_key_replays_refusals_too(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-2"}
    first = await client.post(f"/orders/{uuid4()}/cancel", json={}, headers=headers)
    again = await client.post(f"/orders/{uuid4()}/cancel", json={}, headers=headers)
    assert first.status_code == 404 and again.status_code == 404


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_invalid_idempotency_keys_are_422(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/orders", json=ORDER, headers={"Idempotency-Key": key})
    assert_problem(response, 422, "validation-failed")


async def test_concurrent_idempotent_requests_append_once(
    client: httpx.AsyncClient, nc: NATS
) -> None:
    headers = {"Idempotency-Key": "k-race"}
    answers = await asyncio.gather(
        *(client.post("/stock/R/receive", json={"quantity": 1}, headers=headers) for _ in range(10))
    )
    assert {a.status_code for a in answers} <= {202, 409}
    assert any(a.status_code == 202 for a in answers)
    info = await nc.jetstream().stream_info("STOCK")
    assert info.state.messages == 1


async def test_fifty_concurrent_commands_on_one_sku(client: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(
        *(client.post("/stock/HOT/receive", json={"quantity": 1}) for _ in range(50))
    )
    assert [a.status_code for a in answers] == [202] * 50
    positions = sorted(int(a.json()["position"].split(":")[1]) for a in answers)
    assert positions == list(range(1, 51))
