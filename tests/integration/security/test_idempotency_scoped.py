"""Idempotency-Keys belong to the client that sent them (with tokens on), and an order's
id is derived with a secret of the deployment, not `uuid5` of a public namespace: two
clients' equal keys never meet, and nobody can predict an order id from a key."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS

from tally.bootstrap import bootstrap
from tally.embedded.nats_server import EmbeddedNats
from tally.http.app import create_api_app
from tally.http.auth import ApiAuth
from tally.http.tokens import TokenTable, digest, parse_tokens
from tally.nats_permissions import role_permissions
from tally.roles.migrate import migrate_streams
from tally.settings import Settings

pytestmark = pytest.mark.integration
ALICE, BOB = "tally_alice_token", "tally_bob_token"
TOKENS = f"sha256:{digest(ALICE)}=write;sha256:{digest(BOB)}=write"
ORDER = {"customer_id": "c", "lines": [{"sku": "S1", "quantity": 1, "unit_price": "2.00"}]}
PUBLIC_NAMESPACE = uuid5(NAMESPACE_URL, "https://tally.example/events")


@contextlib.asynccontextmanager
async def api(nc: NATS, tokens: str | None = TOKENS) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings()
    await migrate_streams(nc, settings)
    async with bootstrap(settings, name="test-api", nats=nc) as parts:
        routes = await parts.command_routes()
        auth = ApiAuth(TokenTable(parse_tokens(tokens))) if tokens else None
        app = create_api_app(routes=routes.routes(), checks={}, auth=auth)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tally") as client:
            yield client


async def place(http: httpx.AsyncClient, key: str, token: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} | ({"Authorization": f"Bearer {token}"} if token else {})
    answer = await http.post("/orders", json=ORDER, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer


async def test_two_clients_with_one_key_place_two_orders(nc: NATS) -> None:
    async with api(nc) as http:
        alice = await place(http, "order-1", ALICE)
        bob = await place(http, "order-1", BOB)
        again = await place(http, "order-1", ALICE)
    assert "idempotent-replayed" not in bob.headers
    assert bob.json()["order_id"] != alice.json()["order_id"]
    assert bob.json()["position"] != alice.json()["position"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == alice.json()
    async with api(nc) as http:  # a restarted API: the same client's key, the same order
        assert (await place(http, "order-1", ALICE)).json() == alice.json()


async def test_without_tokens_a_key_is_global(nc: NATS) -> None:
    async with api(nc, tokens=None) as http:
        first, second = await place(http, "open-1"), await place(http, "open-1")
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()


async def test_order_ids_cannot_be_derived_from_the_key(nc: NATS, tmp_path: Path) -> None:
    async with api(nc) as http:
        here = (await place(http, "order-2", ALICE)).json()["order_id"]
    assert here != str(uuid5(PUBLIC_NAMESPACE, "order:order-2"))
    other = EmbeddedNats(tmp_path / "other")  # another deployment, its own secret
    await asyncio.to_thread(other.start)
    try:
        elsewhere_nc = await nats.connect(other.url)
        async with api(elsewhere_nc) as http:
            elsewhere = (await place(http, "order-2", ALICE)).json()["order_id"]
        await elsewhere_nc.close()
    finally:
        await asyncio.to_thread(other.stop)
    assert elsewhere != here


def test_the_api_may_read_the_secret_but_not_change_it() -> None:
    api_may = role_permissions()["api"].publish
    assert "$JS.API.DIRECT.GET.KV_tally_secrets.>" in api_may
    assert not any(subject.startswith("$KV.tally_secrets") for subject in api_may)
