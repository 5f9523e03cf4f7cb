"""Whatever a command accepts, the views can store: a property over every command body.

Bodies come from each command's JSON schema, with hostile strings (control characters,
lone surrogates, any Unicode) mixed into every string field. Each body goes to the real
command routes over real NATS; whatever is accepted (202) is read back from its stream and
applied by the real projection to a migrated PostgreSQL database, in a transaction rolled
back afterwards. A value the API accepted and PostgreSQL refused would be a poison event:
dead-lettered, the order missing from the view while /projections shows no lag.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NATS
from pydantic import BaseModel

from events.subjects import ORDERS, STOCK
from projections.facts import Fact, decode_fact
from projections.registry import get_projection
from support.body_strategies import bodies
from tally.bootstrap import bootstrap
from tally.database_url import asyncpg_dsn
from tally.http.app import create_api_app
from tally.roles.database import run_alembic
from tally.roles.migrate import migrate_streams
from tally.settings import Settings
from write_side.http import schemas

pytestmark = pytest.mark.integration
COMMANDS: dict[type[BaseModel], str] = {
    schemas.PlaceOrderBody: "/orders",
    schemas.CancelOrderBody: "/orders/{order_id}/cancel",
    schemas.ShipOrderBody: "/orders/{order_id}/ship",
    schemas.ReceiveStockBody: "/stock/SKU-P/receive",
    schemas.AdjustStockBody: "/stock/SKU-P/adjust",
}
PLACE = {"customer_id": "c", "lines": [{"sku": "SKU-P", "quantity": 1, "unit_price": "1"}]}
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_every_command_body_is_covered() -> None:
    bodies_in_schemas = {
        model
        for model in vars(schemas).values()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__name__.endswith("Body")
        and not model.__name__.startswith("_")
    }
    assert bodies_in_schemas == set(COMMANDS)


@pytest.fixture
async def api(nc: NATS) -> AsyncIterator[httpx.AsyncClient]:
    await migrate_streams(nc, Settings())
    async with bootstrap(Settings(), name="test-api", nats=nc) as parts:
        routes = await parts.command_routes()
    app = create_api_app(routes=routes.routes(), checks={})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
        yield client


@pytest.fixture
async def view(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    await run_alembic(database_url)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        yield conn
    finally:
        await conn.close()


async def post(api: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    # ensure_ascii: a lone surrogate travels as \\udXXX, as a client's JSON would carry it
    content = json.dumps(body).encode()
    return await api.post(path, content=content, headers={"content-type": "application/json"})


async def stored(nc: NATS, position: str) -> tuple[str, Fact]:
    """The stored event as the projector decodes it."""
    stream, _, seq = position.partition(":")
    message = await nc.jetstream().get_msg(stream, int(seq))
    return stream, decode_fact(
        message.data or b"",
        message.headers or {},
        stream=stream,
        seq=int(seq),
        subject=message.subject or "",
    )


async def project(view: asyncpg.Connection, events: list[tuple[str, Fact]]) -> None:
    """Apply `events` as the live projector would, then roll everything back."""
    transaction = view.transaction()
    await transaction.start()
    try:
        for stream, fact in events:
            name = "orders" if stream == ORDERS else "stock"
            await get_projection(name).apply(view, "public", [fact])
    finally:
        await transaction.rollback()


@pytest.mark.parametrize("model", list(COMMANDS), ids=lambda model: model.__name__)
@HYPOTHESIS
@given(data=st.data())
async def test_whatever_a_command_accepts_projects(
    api: httpx.AsyncClient,
    nc: NATS,
    view: asyncpg.Connection,
    model: type[BaseModel],
    data: st.DataObject,
) -> None:
    body = data.draw(bodies(model), label="body")
    accepted: list[tuple[str, Fact]] = []
    path = COMMANDS[model]
    if "{order_id}" in path:  # an order to cancel or ship: placed first
        placed = await post(api, "/orders", PLACE)
        accepted.append(await stored(nc, placed.json()["position"]))
        path = path.format(order_id=placed.json()["order_id"])
    if model is schemas.AdjustStockBody:  # stock to adjust: received first
        received = await post(api, "/stock/SKU-P/receive", {"quantity": 1_000_000_000})
        accepted.append(await stored(nc, received.json()["position"]))
    answer = await post(api, path, body)
    assert answer.status_code in (202, 409, 422), answer.text
    if answer.status_code == 202:
        accepted.append(await stored(nc, answer.json()["position"]))
    await project(view, accepted)
    assert {stream for stream, _ in accepted} <= {ORDERS, STOCK}
