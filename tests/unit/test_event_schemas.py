"""events/schemas/ is the registry of every event type and version; the live models must pass
the schema gate against it.

When this fails, its message says what to do: a compatible change asks for
`scripts/tally schemas export`; a breaking one names the event, the field and the rule, and
needs a new version with an upcaster instead.
"""

import json
from pathlib import Path
from uuid import uuid4

import jsonschema
import pytest

from events.codec import decode
from events.envelope import (
    CORRELATION_ID,
    EVENT_TYPE,
    EVENT_VERSION,
    MSG_ID,
    OCCURRED_AT,
)
from events.orders import OrderPlaced
from events.registry import CURRENT, HISTORIC, UPCASTERS
from events.schema_catalog import live_catalog
from events.schema_findings import Verdict
from events.schema_gate import check
from events.schema_registry import SCHEMA_DIR, load_registry
from events.schema_report import render

REGISTRY = load_registry(SCHEMA_DIR)


def test_the_models_pass_the_gate_against_the_registry() -> None:
    report = check(live_catalog(), REGISTRY)
    assert report.verdict is Verdict.IDENTICAL, "\n".join(render(report, "events/schemas"))


def test_every_type_and_version_has_a_schema_and_an_example() -> None:
    for model in (*CURRENT.values(), *HISTORIC):
        key = (model.event_type, model.schema_version)
        assert key in REGISTRY.schemas and key in REGISTRY.examples
    assert len(CURRENT) == 13


@pytest.mark.parametrize("key", sorted(REGISTRY.examples), ids=lambda key: f"{key[0]}.v{key[1]}")
def test_every_example_fits_its_registered_schema(key: tuple[str, int]) -> None:
    """Checked with an independent JSON Schema validator, not with the models."""
    schema, example = REGISTRY.schemas[key], json.loads(REGISTRY.examples[key])
    jsonschema.Draft202012Validator(schema).validate(example)


def test_the_stored_order_placed_v1_is_read_as_v2_in_euros() -> None:
    """The upcaster v1 -> v2, on the stored example, through the codec as a stream is read."""
    data = (SCHEMA_DIR / "examples" / "OrderPlaced.v1.json").read_bytes()
    headers = {
        MSG_ID: str(uuid4()),
        EVENT_TYPE: "OrderPlaced",
        EVENT_VERSION: "1",
        CORRELATION_ID: "example",
        OCCURRED_AT: "2026-01-05T10:00:00.000000Z",
    }
    recorded = decode(data, headers, stream="ORDERS", seq=1, subject="orders.example")
    event = recorded.event
    assert isinstance(event, OrderPlaced)
    assert event.model_dump(mode="json") == {
        "customer_id": "c-1042",
        "currency": "EUR",
        "lines": [
            {"sku": "SKU-1", "quantity": 2, "unit_price": "12.50"},
            {"sku": "SKU-7", "quantity": 1, "unit_price": "3.99"},
        ],
        "total": "28.99",
    }


def test_docs_events_md_lists_every_version_its_fields_and_upcasters() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    rows = {
        tuple(cell.strip() for cell in line.split("|")[1:3]): line
        for line in doc.splitlines()
        if line.startswith("| ")
    }
    for (event_type, version), schema in REGISTRY.schemas.items():
        row = rows.get((event_type, f"v{version}"), "")
        assert row, f"docs/events.md has no row for {event_type} v{version}"
        for field in schema["properties"]:
            assert f"`{field}`" in row, f"docs/events.md: {event_type} v{version} lacks {field}"
    for event_type, version in UPCASTERS:
        assert f"| {event_type} v{version} → v{version + 1} |" in doc
