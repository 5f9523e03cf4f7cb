"""Hostile input: oversized request heads are cut off by the server, user text never
becomes a NATS subject unvalidated, and scopes hold on the real command routes."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from nats.aio.client import Client as NATS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tally.bootstrap import bootstrap
from tally.embedded.ports import free_port
from tally.http.app import create_api_app
from tally.http.auth import ApiAuth
from tally.http.tokens import TokenTable, digest, parse_tokens
from tally.roles.lifecycle import serve_http
from tally.roles.migrate import migrate_streams
from tally.settings import Settings

pytestmark = pytest.mark.integration
WRITER, READER = "tally_hostile_writer", "tally_hostile_reader"
TOKENS = f"sha256:{digest(WRITER)}=write;sha256:{digest(READER)}=read"


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, int]]:
    settings = Settings(port=free_port(), max_header_bytes=8192)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_http(Starlette(routes=[Route("/", hello)]), settings, stop))
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection((settings.host, settings.port)):
            break
        await asyncio.sleep(0.02)
    yield settings.host, settings.port
    stop.set()
    await serving


def exchange(address: tuple[str, int], *chunks: bytes) -> bytes:
    """Sends the chunks (stopping early if the server hangs up) and reads the answer."""
    with socket.create_connection(address, timeout=5) as sock:
        with contextlib.suppress(OSError):
            for chunk in chunks:
                sock.sendall(chunk)
        answer = b""
        with contextlib.suppress(OSError):
            while part := sock.recv(65536):  # every answer here closes the connection
                answer += part
        return answer


async def test_a_normal_request_passes(server: tuple[str, int]) -> None:
    answer = await asyncio.to_thread(
        exchange, server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
    ],
    ids=["one-big-header", "long-url", "too-many-headers"],
)
async def test_an_oversized_head_is_431(server: tuple[str, int], head: bytes) -> None:
    answer = await asyncio.to_thread(exchange, server, head)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


async def test_a_head_that_never_ends_is_cut_off(server: tuple[str, int]) -> None:
    chunks = [b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "] + [b"a" * 1024] * 64
    answer = await asyncio.to_thread(exchange, server, *chunks)
    assert answer.startswith(b"HTTP/1.1 431")


@pytest.fixture
async def commands(nc: NATS) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings()
    await migrate_streams(nc, settings)
    async with bootstrap(settings, name="test-api", nats=nc) as parts:
        routes = await parts.command_routes()
    auth = ApiAuth(TokenTable(parse_tokens(TOKENS)))
    app = create_api_app(routes=routes.routes(), checks={}, auth=auth)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {WRITER}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://tally", headers=headers
    ) as http:
        yield http


async def messages(nc: NATS, stream: str) -> int:
    return int((await nc.jetstream().stream_info(stream)).state.messages)


@pytest.mark.parametrize(
    "sku", ["a.b", "a*", "*", ">", "a.>", "%2A", "%3E", "a%2Eb", "a%20b", "%00", "x" * 65]
)
async def test_a_sku_with_wildcards_or_dots_is_422_before_nats(
    commands: httpx.AsyncClient, nc: NATS, sku: str
) -> None:
    for action, body in (("receive", {"quantity": 1}), ("adjust", {"delta": 1, "reason": "r"})):
        response = await commands.post(f"/stock/{sku}/{action}", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "sku"
    line = {"sku": sku.replace("%2A", "*").replace("%3E", ">"), "quantity": 1, "unit_price": "1"}
    order = await commands.post("/orders", json={"customer_id": "c", "lines": [line]})
    assert order.status_code == 422, order.text
    assert await messages(nc, "STOCK") == 0
    assert await messages(nc, "ORDERS") == 0


@pytest.mark.parametrize("order_id", ["*", ">", "a.b", "%2A", "not-a-uuid"])
async def test_an_order_id_that_is_not_a_uuid_never_reaches_nats(
    commands: httpx.AsyncClient, nc: NATS, order_id: str
) -> None:
    response = await commands.post(f"/orders/{order_id}/cancel", json={})
    assert response.status_code in (404, 422), response.text
    assert await messages(nc, "ORDERS") == 0


async def test_scopes_hold_on_the_real_command_routes(
    commands: httpx.AsyncClient, nc: NATS
) -> None:
    read_only = {"Authorization": f"Bearer {READER}"}
    refused = await commands.post("/stock/A/receive", json={"quantity": 1}, headers=read_only)
    assert refused.status_code == 403
    anonymous = await commands.post(
        "/stock/A/receive", json={"quantity": 1}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    assert await messages(nc, "STOCK") == 0
    accepted = await commands.post("/stock/A/receive", json={"quantity": 1})
    assert accepted.status_code == 202
    cancel = await commands.post(f"/orders/{uuid4()}/cancel", json={})
    assert cancel.status_code == 404  # passed the guard, refused by the domain
    assert await messages(nc, "STOCK") == 1


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f"], ids=repr)
async def test_control_characters_in_free_text_are_422_before_nats(
    commands: httpx.AsyncClient, nc: NATS, char: str
) -> None:
    """A NUL in a customer id or a reason used to be accepted, then refused by PostgreSQL:
    a poison event, the order missing from the view. Every free-text field of every
    command refuses control characters before anything is appended."""
    line = {"sku": "S1", "quantity": 1, "unit_price": "1.00"}
    placed = await commands.post("/orders", json={"customer_id": "c", "lines": [line]})
    received = await commands.post("/stock/S1/receive", json={"quantity": 5})
    assert placed.status_code == received.status_code == 202
    before = {stream: await messages(nc, stream) for stream in ("ORDERS", "STOCK")}
    order = placed.json()["order_id"]
    cases = [
        ("/orders", {"customer_id": f"c{char}1", "lines": [line]}, "customer_id"),
        (f"/orders/{order}/cancel", {"reason": f"because{char}"}, "reason"),
        ("/stock/S1/adjust", {"delta": -1, "reason": f"{char}count"}, "reason"),
    ]
    for path, body, field in cases:
        answer = await commands.post(path, json=body)
        assert answer.status_code == 422, (path, answer.text)
        assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [
            (field, "control_characters")
        ]
    assert {stream: await messages(nc, stream) for stream in ("ORDERS", "STOCK")} == before


async def test_a_total_the_views_cannot_hold_is_422_before_nats(
    commands: httpx.AsyncClient, nc: NATS
) -> None:
    """Found by the property in test_accepted_input_projects: 250,000 x 40,000,000 is 10^13,
    14 digits before the point, which numeric(15, 2) cannot hold: it was accepted, then a
    poison event. The domain now refuses a total over 13 digits."""
    line = {"sku": "S1", "quantity": 250_000, "unit_price": "40000000"}
    answer = await commands.post("/orders", json={"customer_id": "c", "lines": [line]})
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["total"]
    assert await messages(nc, "ORDERS") == 0
    largest = {"sku": "S1", "quantity": 1, "unit_price": "9999999999999.99"}
    assert (
        await commands.post("/orders", json={"customer_id": "c", "lines": [largest]})
    ).status_code == 202
