"""The shared HTTP edge: problems, the error table looked up by type, path parameters
defined once, the correlation-id rule, the Idempotency-Key rule, and the problem pages
every `type` URI of the API points to."""

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_spec_validator import validate
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from http_edge import correlation
from http_edge.errors import EDGE_ERRORS, ErrorMap
from http_edge.params import ORDER_ID, SKU
from http_edge.problems import Problem, problem_type
from read_side.errors import PositionOfAnotherStream, ProjectionLagging, ViewsUnavailable
from read_side.http.openapi import openapi_paths as query_openapi
from tally.http.app import create_api_app
from tally.http.errors import API_ERRORS, API_PAGES
from tally.http.openapi import build_openapi
from write_side.domain.stock import OutOfStock
from write_side.errors import ConcurrencyConflict, StoreUnavailable, WriteSideError
from write_side.http.idempotent import KEY_PATTERN, request_key
from write_side.http.openapi import openapi_paths as command_openapi

LATIN_1 = st.text(st.characters(max_codepoint=0xFF), max_size=300)


class Refused(Exception):
    pass


class RefusedHarder(Refused):
    pass


def test_a_problem_is_rfc_9457_json_with_a_resolvable_type() -> None:
    problem = Problem(409, "order-final", "Refused", "it is shipped", headers={"X-A": "1"})
    response = problem.response()
    assert response.status_code == 409 and response.headers["x-a"] == "1"
    assert response.media_type == "application/problem+json"
    body = json.loads(problem.body())
    assert body == {
        "type": "/problems/order-final",
        "title": "Refused",
        "status": 409,
        "detail": "it is shipped",
    }


def test_errors_are_looked_up_along_the_mro() -> None:
    table = ErrorMap({Refused: lambda error: Problem(409, "refused", "Refused", str(error))})
    found = table.problem(RefusedHarder("no"))
    assert found is not None and (found.status, found.code, found.detail) == (409, "refused", "no")
    assert table.problem(ValueError("x")) is None


def test_a_type_mapped_twice_is_an_error_not_a_silent_override() -> None:
    with pytest.raises(ValueError, match="Problem"):
        _ = EDGE_ERRORS | ErrorMap({Problem: lambda problem: problem})


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (OutOfStock("S", 3, 1), 409, "out-of-stock"),
        (ConcurrencyConflict("orders.x", 1, 2), 409, "concurrency-conflict"),
        (StoreUnavailable("down"), 503, "service-unavailable"),
        (WriteSideError("new kind"), 503, "service-unavailable"),
        (ViewsUnavailable("TimeoutError: "), 503, "service-unavailable"),
        (PositionOfAnotherStream("STOCK:1 is not ORDERS"), 400, "position-of-another-stream"),
    ],
)
def test_every_side_error_has_one_answer(error: Exception, status: int, code: str) -> None:
    problem = API_ERRORS.problem(error)
    assert problem is not None and (problem.status, problem.code) == (status, code)


def test_lagging_says_where_the_view_is_and_when_to_ask_again() -> None:
    from events.subjects import Position

    lagging = ProjectionLagging("stock", Position("STOCK", 3), Position("STOCK", 9))
    problem = API_ERRORS.problem(lagging)
    assert problem is not None and problem.headers == {"Retry-After": "1"}
    assert problem.detail == "stock has applied STOCK:3, not yet STOCK:9"


def request_with(path_params: dict[str, str], headers: dict[str, str] | None = None) -> Request:
    raw = [
        (name.lower().encode(), value.encode("latin-1")) for name, value in (headers or {}).items()
    ]
    return Request({"type": "http", "path_params": path_params, "headers": raw, "state": {}})


def test_path_parameters_parse_and_refuse_as_documented() -> None:
    order_id = "0b7e3c8a-3f0e-4f51-9d7e-4f0a4b1f8d11"
    assert ORDER_ID(request_with({"order_id": order_id})) == order_id
    for spelling in (order_id.upper(), order_id.replace("-", ""), f"{{{order_id}}}"):
        assert ORDER_ID(request_with({"order_id": spelling})) == order_id  # as UUID reads it
    for bad in ("nope", order_id[:-1], f"{order_id}0", order_id.replace("-", "_"), ""):
        with pytest.raises(Problem):
            ORDER_ID(request_with({"order_id": bad}))
    with pytest.raises(Problem) as not_an_id:
        ORDER_ID(request_with({"order_id": "nope"}))
    assert not_an_id.value.status == 404
    assert SKU(request_with({"sku": "SKU-1"})) == "SKU-1"
    with pytest.raises(Problem) as not_a_sku:
        SKU(request_with({"sku": "a.b"}))
    assert not_a_sku.value.status == 422 and not_a_sku.value.errors is not None
    assert not_a_sku.value.errors[0]["field"] == "sku"
    assert SKU.openapi()["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert ORDER_ID.openapi()["schema"] == {"type": "string", "format": "uuid"}


@given(LATIN_1)
def test_the_correlation_rule_keeps_valid_ids_and_replaces_others(given_id: str) -> None:
    kept = correlation.correlation_id_for(given_id)
    if 0 < len(given_id) <= 200 and given_id.isprintable():
        assert kept == given_id
    else:
        assert correlation.is_valid(kept) and len(kept) == 36


def test_a_made_correlation_id_is_a_version_4_uuids_text() -> None:
    made = {correlation.new_correlation_id() for _ in range(2000)}
    assert len(made) == 2000
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


@given(LATIN_1)
def test_the_documented_key_pattern_is_exactly_what_is_accepted(key: str) -> None:
    """Header values arrive as latin-1; the pattern says what `isprintable` accepts there."""
    import re

    accepted = 1 <= len(key) <= 255 and key.isprintable()
    assert bool(re.fullmatch(KEY_PATTERN, key)) == accepted
    if accepted:
        assert request_key(request_with({}, {"Idempotency-Key": key})) == key
    else:
        with pytest.raises(Problem):
            request_key(request_with({}, {"Idempotency-Key": key}))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async def refuse(request: Request) -> Response:
        raise PositionOfAnotherStream("STOCK:1 is not a position of ORDERS")

    routes = [Route("/refuse", refuse, methods=["GET"])]
    app = create_api_app(routes=routes, checks={}, openapi=[command_openapi, query_openapi])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally") as http:
        yield http


async def test_every_problem_type_resolves_to_its_page(client: httpx.AsyncClient) -> None:
    refused = await client.get("/refuse")
    assert refused.status_code == 400
    page = await client.get(refused.json()["type"])
    assert page.status_code == 200 and "not built from" in page.text
    for code in API_PAGES:
        answer = await client.get(problem_type(code))
        assert answer.status_code == 200 and answer.text.startswith(problem_type(code))
    unknown = await client.get("/problems/no-such-code")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/not-found"
    missing = await client.get("/nowhere")
    assert missing.json()["type"] == "/problems/not-found"


def test_the_document_links_a_placed_order_to_what_comes_next() -> None:
    document = build_openapi([command_openapi, query_openapi], list(API_PAGES))
    validate(document)
    links = document["paths"]["/orders"]["post"]["responses"]["202"]["links"]
    assert {link["operationId"] for link in links.values()} >= {
        "GetOrder",
        "CancelOrder",
        "ShipOrder",
    }
    assert links["GetOrder"]["parameters"]["after"] == "$response.body#/position"
    alone = build_openapi([command_openapi])  # no database, no queries: no link to them
    links = alone["paths"]["/orders"]["post"]["responses"]["202"]["links"]
    assert set(links) == {"CancelOrder", "ShipOrder"}


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [("412", 412), ("412.0", 412), ("4e2", 400), ("412.5", None), ("true", None), ('"412"', None)],
)
def test_a_quantity_is_what_json_schema_calls_an_integer(raw: str, accepted: int | None) -> None:
    """The document says `integer`, which JSON Schema gives to 412.0 as to 412."""
    from pydantic import ValidationError

    from write_side.http.schemas import ReceiveStockBody

    body = json.loads(f'{{"quantity": {raw}}}')
    if accepted is None:
        with pytest.raises(ValidationError):
            ReceiveStockBody.model_validate(body)
    else:
        assert ReceiveStockBody.model_validate(body).quantity == accepted
