"""/openapi.json is a valid OpenAPI 3.1 document covering every route, /docs renders it, and
schemathesis finds no server error anywhere in the running system, nor an operation whose
validation refuses what its own document describes."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from support.tally_process import RunningTally, running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e
EXAMPLES = 25
FUZZ = Path(__file__).with_name("fuzz")  # schemathesis.toml and hooks.py


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


def test_fuzzing_finds_only_designed_answers_and_no_validation_mismatch(
    system: RunningTally, tmp_path: Path
) -> None:
    """schemathesis (every phase: examples, coverage, fuzzing, stateful through the links;
    valid and invalid inputs) against the running system: no 500, every error answer
    problem+json (hooks.py), and no operation that "mostly rejected generated data", i.e.
    the document describes exactly what the validation accepts (schemathesis.toml)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(FUZZ / "schemathesis.toml"),
        "run",
        f"{system.base}/openapi.json",
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--checks",
        "answers_as_designed",
        "--no-color",
    ]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": str(FUZZ / "hooks.py")}
    run = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900
    )
    output = run.stdout + run.stderr
    assert "mostly rejected generated data" not in output, output[-6000:]
    assert run.returncode == 0, output[-6000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in output or f"✅ {phase}" in output, output[-6000:]
    assert "API Links:" in output  # the stateful phase followed POST /orders' links
