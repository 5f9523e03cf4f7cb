"""Bearer tokens with scopes: every route class with and without every scope.

The routes here are stand-ins at the real paths (the middleware decides before any route
runs); tests/integration/security/ repeats the essentials against the real routes.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from read_side.http.openapi import openapi_paths as query_openapi
from tally.http.app import create_api_app
from tally.http.auth import ApiAuth, required_scope
from tally.http.tokens import TokenTable, digest, new_token, parse_tokens
from write_side.http.openapi import openapi_paths as command_openapi

TOKENS = {scope: f"tally_test_{scope}" for scope in ("read", "write", "admin")}
ALL = "tally_test_all"
CONFIG = ";".join(f"sha256:{digest(token)}={scope}" for scope, token in TOKENS.items())
CONFIG += f";sha256:{digest(ALL)}=read,write,admin"

COMMANDS = [
    "/orders",
    "/orders/0b7e3c8a-3f0e-4f51-9d7e-4f0a4b1f8d11/cancel",
    "/orders/0b7e3c8a-3f0e-4f51-9d7e-4f0a4b1f8d11/ship",
    "/stock/SKU-1/receive",
    "/stock/SKU-1/adjust",
]
QUERIES = [
    "/orders",
    "/orders/0b7e3c8a-3f0e-4f51-9d7e-4f0a4b1f8d11",
    "/orders/0b7e3c8a-3f0e-4f51-9d7e-4f0a4b1f8d11/events",
    "/stock",
    "/stock/SKU-1",
    "/stock/SKU-1/events",
    "/projections",
]
OPS = ["/health", "/ready", "/metrics", "/openapi.json"]
ADMIN = ["/projections/orders/replay", "/dlq/retry"]


async def ok(request: Request) -> Response:
    return JSONResponse({"ok": True}, status_code=202 if request.method == "POST" else 200)


def stand_in_routes() -> list[Route]:
    paths = {
        "/orders",
        "/orders/{id}",
        "/orders/{id}/{what}",
        "/stock",
        "/stock/{sku}",
        "/stock/{sku}/{what}",
        "/projections",
        "/projections/{name}/replay",
        "/dlq/retry",
    }
    return [Route(path, ok, methods=["GET", "POST"]) for path in sorted(paths)]


def client_for(protect_ops: bool = False) -> httpx.AsyncClient:
    auth = ApiAuth(TokenTable(parse_tokens(CONFIG)), protect_ops=protect_ops)
    app = create_api_app(routes=stand_in_routes(), checks={}, auth=auth)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tally")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


CASES = [("POST", path, "write") for path in COMMANDS]
CASES += [("GET", path, "read") for path in QUERIES]
CASES += [("POST", path, "admin") for path in ADMIN]


@pytest.mark.parametrize(("method", "path", "needed"), CASES)
async def test_each_route_class_needs_its_scope(
    client: httpx.AsyncClient, method: str, path: str, needed: str
) -> None:
    missing = await client.request(method, path, json={})
    assert_problem(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")

    unknown = await client.request(method, path, json={}, headers=bearer("tally_nope"))
    assert_problem(unknown, 401, "unauthorized")
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]
    assert "tally_nope" not in unknown.text

    for scope, token in TOKENS.items():
        response = await client.request(method, path, json={}, headers=bearer(token))
        if scope == needed:
            assert response.status_code in (200, 202), response.text
        else:
            body = assert_problem(response, 403, "forbidden")
            assert needed in body["detail"] and token not in response.text
            assert f'scope="{needed}"' in response.headers["www-authenticate"]
    assert (await client.request(method, path, json={}, headers=bearer(ALL))).is_success


@pytest.mark.parametrize("path", OPS)
async def test_operations_are_open_unless_protected(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
    async with client_for(protect_ops=True) as protected:
        assert_problem(await protected.get(path), 401, "unauthorized")
        for token in (*TOKENS.values(), ALL):
            assert (await protected.get(path, headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["tally_test_write", "Basic dGFsbHk6dGFsbHk=", "Bearer", "Bearer  ", "Bearer " + "x" * 600],
)
async def test_malformed_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.post("/orders", json={}, headers={"Authorization": header})
    assert_problem(response, 401, "unauthorized")


async def test_the_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": "bearer " + TOKENS["write"]}
    assert (await client.post("/orders", json={}, headers=headers)).status_code == 202


async def test_unknown_paths_are_refused_before_routing(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 401, "unauthorized")
    assert (await client.get("/nowhere", headers=bearer(TOKENS["read"]))).status_code == 404


async def test_openapi_declares_the_bearer_scheme(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "description": "tally token"}
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/health"]["get"]["security"] == []


async def test_without_tokens_the_api_is_open_and_documents_no_scheme() -> None:
    app = create_api_app(routes=stand_in_routes(), checks={})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
        assert (await http.post("/orders", json={})).status_code == 202
        assert "securitySchemes" not in (await http.get("/openapi.json")).json()["components"]


def test_route_classes() -> None:
    assert required_scope("GET", "/health") is None
    assert required_scope("GET", "/docs/static/swagger-ui.css") is None
    assert required_scope("POST", "/health") == "write"
    assert required_scope("GET", "/orders") == "read"
    assert required_scope("HEAD", "/stock/A") == "read"
    assert required_scope("POST", "/orders") == "write"
    assert required_scope("DELETE", "/dlq/7") == "admin"
    assert required_scope("POST", "/projectionsX") == "write"


def test_new_token_round_trips_through_the_configuration() -> None:
    token, entry = new_token(["write", "read"])
    assert entry.endswith("=read,write") and token not in entry
    table = TokenTable(parse_tokens(entry))
    assert table.scopes(token) == frozenset({"read", "write"})
    assert table.scopes(token + "x") is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256:abc=read",
        "md5:" + "0" * 64 + "=read",
        "sha256:" + "0" * 64 + "=root",
        "sha256:" + "0" * 64 + "=",
    ],
)
def test_malformed_configuration_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"entry|no token"):
        parse_tokens(value)


async def test_the_secured_document_is_valid_openapi_and_lists_401_and_403() -> None:
    auth = ApiAuth(TokenTable(parse_tokens(CONFIG)))
    app = create_api_app(routes=[], checks={}, openapi=[command_openapi, query_openapi], auth=auth)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
        document = (await http.get("/openapi.json")).json()
    validate(document)
    place = document["paths"]["/orders"]["post"]["responses"]
    assert {"401", "403"} <= set(place)
    assert "401" not in document["paths"]["/ready"]["get"]["responses"]
