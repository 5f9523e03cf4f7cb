"""Every role at once, each with only its own rights: NATS users from
tally/nats_permissions.py, the query API on a `tally_query` login, the projectors on a
`tally_projector` login, migrations as the owner. An order goes all the way through
(command -> fulfilment -> projection -> query) and no permission is ever violated."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from support.db_roles import login_role
from support.secured_nats import settings_for
from tally.bootstrap import Parts, bootstrap
from tally.embedded.nats_server import EmbeddedNats
from tally.roles.api import api_app
from tally.roles.fulfil import run_fulfil
from tally.roles.migrate import run_migrate
from tally.roles.project import run_projectors
from tally.roles.replay import run_replay
from write_side.fulfilment.stock_owners import owner_of

pytestmark = pytest.mark.integration


async def wait_for(http: httpx.AsyncClient, path: str, **expected: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(150):
        response = await http.get(path)
        if response.status_code == 200:
            body = response.json()
            if all(body.get(key) == value for key, value in expected.items()):
                return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path}: {body} never matched {expected}")


@contextlib.asynccontextmanager
async def least_privilege(
    secured_nats: EmbeddedNats, database_url: str, *, fulfil: bool, shards: int = 1
) -> AsyncIterator[tuple[httpx.AsyncClient, Parts]]:
    """Migrated as the owner (admin user); the projectors (and `fulfil`) running on their
    own NATS users and the `tally_projector` login; the API app on its NATS user, the
    `tally_query` login for queries and the `tally_projector` one for its admin routes
    (TALLY_ADMIN_DATABASE_URL, as docker/compose.yml gives them); every role ends cleanly.
    `shards`: that many `fulfil` roles, shards of each other (TALLY_FULFIL_SHARD)."""
    owner = SecretStr(database_url)
    await run_migrate(settings_for("admin", secured_nats.url, database_url=owner))
    async with contextlib.AsyncExitStack() as stack:
        query_url = await stack.enter_async_context(login_role(database_url, "tally_query"))
        writer_url = await stack.enter_async_context(login_role(database_url, "tally_projector"))
        stop = asyncio.Event()
        projector = settings_for(
            "projector", secured_nats.url, projector_database_url=SecretStr(writer_url)
        )
        workers = [asyncio.create_task(run_projectors(projector, stop))]
        for shard in range(shards if fulfil else 0):
            fulfilling = settings_for("fulfil", secured_nats.url, fulfil_shard=f"{shard}/{shards}")
            workers.append(asyncio.create_task(run_fulfil(fulfilling, stop)))
        api = settings_for(
            "api",
            secured_nats.url,
            query_database_url=SecretStr(query_url),
            admin_database_url=SecretStr(writer_url),
        )
        try:
            parts = await stack.enter_async_context(bootstrap(api, name="tally-api"))
            app = await api_app(parts)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tally")
            )
            yield http, parts
        finally:
            stop.set()
            results = await asyncio.gather(*workers, return_exceptions=True)
        assert [result for result in results if result is not None] == []


def no_violations(caplog: pytest.LogCaptureFixture) -> None:
    violations = [r.getMessage() for r in caplog.records if "violation" in r.getMessage().lower()]
    assert violations == []


async def test_every_role_works_with_least_privilege(
    secured_nats: EmbeddedNats, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tally.nats")
    async with least_privilege(secured_nats, database_url, fulfil=True) as (http, _):
        received = await http.post("/stock/S1/receive", json={"quantity": 5})
        assert received.status_code == 202, received.text
        line = {"sku": "S1", "quantity": 2, "unit_price": "3.50"}
        placed = await http.post("/orders", json={"customer_id": "c1", "lines": [line]})
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["order_id"]
        order = await wait_for(http, f"/orders/{order_id}", status="confirmed")
        assert order["total"] == "7.00"
        await wait_for(http, "/stock/S1", on_hand=5, reserved=2)
        events = (await http.get(f"/orders/{order_id}/events")).json()["items"]
        assert [event["type"] for event in events][:2] == ["OrderPlaced", "OrderConfirmed"]
        # an operator rebuilds the view (admin user, owner URL): the swapped-in tables
        # keep the grants, so the API still reads and the projector still writes them
        admin = settings_for("admin", secured_nats.url, database_url=SecretStr(database_url))
        replayed = await run_replay(admin, "orders", asyncio.Event())
        assert replayed.position >= 2
        await wait_for(http, f"/orders/{order_id}", status="confirmed")
        again = await http.post("/orders", json={"customer_id": "c2", "lines": [line]})
        assert again.status_code == 202, again.text
        await wait_for(http, f"/orders/{again.json()['order_id']}", status="confirmed")
    no_violations(caplog)


async def test_sharded_fulfilment_works_with_least_privilege(
    secured_nats: EmbeddedNats, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two `fulfil` roles as shards: the stock commands one asks of the other (and the
    answers, into the asker's inbox) pass with the fulfil user's rights."""
    caplog.set_level(logging.WARNING, logger="tally.nats")
    skus = [f"S{n}" for n in range(1, 9)]
    assert {owner_of(sku, 2) for sku in skus} == {0, 1}
    async with least_privilege(secured_nats, database_url, fulfil=True, shards=2) as (http, _):
        for sku in skus:
            received = await http.post(f"/stock/{sku}/receive", json={"quantity": 5})
            assert received.status_code == 202, received.text
        lines = [{"sku": sku, "quantity": 1, "unit_price": "1.00"} for sku in skus]
        placed = await http.post("/orders", json={"customer_id": "c1", "lines": lines})
        assert placed.status_code == 202, placed.text
        await wait_for(http, f"/orders/{placed.json()['order_id']}", status="confirmed")
    no_violations(caplog)


async def test_the_admin_routes_work_with_least_privilege(
    secured_nats: EmbeddedNats, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The API's admin routes with the API's own NATS user and the projector's database
    login, never the owner's: a pause and a resume, and a dead letter the projector made
    listed, shown, retried (it still fails: it stays) and dropped."""
    caplog.set_level(logging.WARNING, logger="tally.nats")
    async with least_privilege(secured_nats, database_url, fulfil=False) as (http, parts):
        paused = await http.post("/admin/projections/stock/pause")
        assert paused.status_code == 200, paused.text
        assert paused.json()["paused"] is True
        resumed = await http.post("/admin/projections/stock/resume")
        assert resumed.status_code == 200, resumed.text
        # an event no fix can apply, appended as the API may (orders.*): dead-lettered
        writer = await parts.nats()  # the API's own connection, its NATS user
        headers = {"Tally-Event-Type": "OrderPlaced", "Tally-Event-Version": "1"}
        await writer.jetstream().publish(f"orders.{uuid4()}", b"{not json", headers=headers)
        (letter,) = await wait_for_items(http, "/admin/dead-letters?projection=orders")
        seq = letter["seq"]
        shown = await http.get(f"/admin/dead-letters/{seq}")
        assert shown.status_code == 200 and shown.json()["data"] == "{not json", shown.text
        retried = await http.post(f"/admin/dead-letters/{seq}/retry")  # as the writer
        assert retried.status_code == 409, retried.text
        assert retried.json()["type"] == "/problems/dead-letter-still-fails"
        dropped = await http.post(f"/admin/dead-letters/{seq}/drop")
        assert dropped.status_code == 200, dropped.text
        assert dropped.json()["outcome"] == "dropped"
        left = await http.get("/admin/dead-letters?projection=orders")
        assert left.status_code == 200 and left.json()["items"] == [], left.text
    no_violations(caplog)


async def wait_for_items(http: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    for _ in range(150):
        response = await http.get(path)
        assert response.status_code == 200, response.text
        if items := response.json()["items"]:
            return list(items)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path}: no items")
