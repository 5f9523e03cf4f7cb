"""/openapi.json is a valid OpenAPI 3.1 document covering every route, /docs renders it, and
schemathesis finds no server error anywhere in the running system."""

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis.core.result import Ok

from support.tally_process import RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e
EXAMPLES = 25


@pytest.fixture(scope="module")
def system() -> Iterator[RunningTally]:
    with running_tally(free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def document(system: RunningTally) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{system.base}/openapi.json", timeout=5).json()
    return answer


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_is_documented_with_its_errors(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path in ("/orders", "/orders/{order_id}/cancel", "/stock/{sku}/receive", "/ready"):
        assert path in paths
    place = paths["/orders"]["post"]
    assert {"202", "400", "409", "413", "422", "503"} <= set(place["responses"])
    problem = place["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_docs_page_renders_the_document(system: RunningTally) -> None:
    page = httpx.get(f"{system.base}/docs", timeout=5)
    assert page.status_code == 200 and "swagger-ui" in page.text
    script = httpx.get(f"{system.base}/docs/static/swagger-ui-bundle.js", timeout=5)
    assert script.status_code == 200 and len(script.content) > 100_000


def test_no_server_errors(system: RunningTally) -> None:
    """Every operation, with inputs generated from its schema (valid and invalid ones)."""
    schema = schemathesis.openapi.from_url(f"{system.base}/openapi.json")
    checked = []
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def no_server_error(case: Any) -> None:
            if isinstance(case.query, dict) and isinstance(case.query.get("wait"), int | float):
                case.query["wait"] = min(case.query["wait"], 0.2)  # keep the run short
            response = case.call(base_url=system.base, timeout=10)
            # 503 is a designed answer (projection-lagging, a dependency down); 500 never is.
            assert response.status_code != 500, response.text
            if response.status_code >= 400:
                assert response.headers["content-type"][0] == "application/problem+json"

        try:
            no_server_error()
        except Unsatisfiable:
            # Nothing invalid can be sent to a route without inputs (GET /health).
            assert mode is schemathesis.GenerationMode.NEGATIVE
            continue
        checked.append((operation.label, mode))
    assert len(operations) >= 8
    assert len(checked) >= len(operations) + 5  # the 5 command routes, negative cases too
