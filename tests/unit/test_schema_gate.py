"""The gate on copies of the live event models: a breaking change fails it with a clear
message; the same change as a new version, with an upcaster and an example, passes it."""

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from events.orders import OrderCancelled, OrderPlaced
from events.registry import UPCASTERS, JsonObject
from events.schema_changes import Rule
from events.schema_findings import GateRule, Severity, Verdict
from events.schema_gate import check
from events.schema_registry import example_path, load_registry, write_schemas
from events.schema_report import render
from events.stock import StockReceived
from support.event_copies import catalog_with, copy_of, live_registry, registry_copy


def findings(report: Any) -> set[tuple[str, int, str, str | None]]:
    return {(f.event_type, f.version, f.rule, f.field) for f in report.findings}


def test_an_unchanged_copy_of_a_model_passes() -> None:
    report = check(catalog_with(copy_of(OrderPlaced)), live_registry())
    assert report.verdict is Verdict.IDENTICAL, "\n".join(render(report, "events/schemas"))
    assert report.exit_code == 0


def test_removing_a_field_in_place_fails_naming_event_field_and_rule() -> None:
    report = check(catalog_with(copy_of(OrderPlaced, drop="customer_id")), live_registry())
    assert report.verdict is Verdict.BREAKING and report.exit_code == 3
    [breaking] = report.of(Severity.BREAKING)
    assert (breaking.event_type, breaking.version, breaking.field, breaking.rule) == (
        "OrderPlaced",
        2,
        "customer_id",
        Rule.FIELD_REMOVED,
    )
    text = "\n".join(render(report, "events/schemas"))
    assert "OrderPlaced v2, field customer_id: field-removed: removed" in text
    assert "make the change in OrderPlaced v3" in text
    assert 'UPCASTERS[("OrderPlaced", 2)]' in text
    assert "scripts/tally schemas export" in text


def test_retyping_a_field_in_place_fails() -> None:
    retyped = copy_of(StockReceived, quantity=(str, Field(max_length=20)))
    report = check(catalog_with(retyped), live_registry())
    assert ("StockReceived", 1, Rule.FIELD_RETYPED, "quantity") in findings(report)
    assert report.exit_code == 3


def test_a_compatible_change_asks_for_a_regeneration() -> None:
    noted = copy_of(OrderCancelled, refunded=(bool, False))
    report = check(catalog_with(noted), live_registry())
    assert report.verdict is Verdict.COMPATIBLE and report.exit_code == 0
    assert findings(report) == {("OrderCancelled", 1, Rule.OPTIONAL_FIELD_ADDED, "refunded")}
    assert "run `scripts/tally schemas export`" in "\n".join(render(report, "events/schemas"))


def test_regenerating_over_a_breaking_change_is_still_caught_by_the_examples(
    tmp_path: Path,
) -> None:
    """Export refuses a breaking change; a registry rewritten by hand is not enough either:
    the stored example of the version no longer fits it."""
    catalog = catalog_with(copy_of(OrderPlaced, drop="customer_id"))
    directory = registry_copy(tmp_path)
    write_schemas(directory, catalog.schemas())
    report = check(catalog, load_registry(directory))
    assert not report.of(Severity.BREAKING)
    assert ("OrderPlaced", 2, GateRule.EXAMPLE_INVALID, None) in findings(report)
    assert report.exit_code == 1


def _v2_to_v3(data: JsonObject) -> JsonObject:
    """The upcaster a rename needs: v2's customer_id is v3's customer."""
    rest = {key: value for key, value in data.items() if key != "customer_id"}
    return {**rest, "customer": data["customer_id"]}


V3 = copy_of(
    OrderPlaced, version=3, drop="customer_id", customer=(str, Field(min_length=1, max_length=200))
)


def test_a_new_version_needs_an_upcaster_from_the_old_one() -> None:
    report = check(catalog_with(V3), live_registry())
    assert ("OrderPlaced", 3, GateRule.UPCASTER_MISSING, None) in findings(report)
    assert report.exit_code == 3


def test_a_new_version_with_an_upcaster_and_an_example_passes(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    catalog = catalog_with(V3, upcasters={**UPCASTERS, ("OrderPlaced", 2): _v2_to_v3})
    report = check(catalog, load_registry(directory))
    assert findings(report) == {
        ("OrderPlaced", 3, GateRule.VERSION_ADDED, None),
        ("OrderPlaced", 3, GateRule.EXAMPLE_MISSING, None),
    }
    v2_example = json.loads(example_path(directory, ("OrderPlaced", 2)).read_text())
    example_path(directory, ("OrderPlaced", 3)).write_text(json.dumps(_v2_to_v3(v2_example)))
    report = check(catalog, load_registry(directory))
    assert report.verdict is Verdict.COMPATIBLE and report.exit_code == 0
    [step] = [step for step in report.steps if step.version == 2]
    assert (step.changes[0].path, step.changes[0].rule) == ("customer_id", Rule.FIELD_RENAMED)
    assert write_schemas(directory, catalog.schemas()).added == [("OrderPlaced", 3)]
    assert check(catalog, load_registry(directory)).verdict is Verdict.IDENTICAL


def test_the_old_versions_examples_are_read_through_every_upcaster(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    catalog = catalog_with(V3, upcasters={**UPCASTERS, ("OrderPlaced", 2): _v2_to_v3})
    v1 = example_path(directory, ("OrderPlaced", 1)).read_bytes()
    event = catalog.decode("OrderPlaced", 1, v1)
    assert type(event) is V3
    assert event.model_dump(mode="json")["customer"] == "c-1042"
    assert event.model_dump(mode="json")["currency"] == "EUR"


def test_an_upcaster_that_does_not_bridge_the_change_fails_on_the_example() -> None:
    def forgets(data: JsonObject) -> JsonObject:
        return data

    catalog = catalog_with(upcasters={**UPCASTERS, ("OrderPlaced", 1): forgets})
    report = check(catalog, live_registry())
    [failure] = report.of(Severity.FAILURE)
    assert (failure.event_type, failure.version, failure.rule) == (
        "OrderPlaced",
        1,
        GateRule.EXAMPLE_UNREADABLE,
    )
    assert "examples/OrderPlaced.v1.json cannot be read as v2: currency: Field required" in (
        failure.detail
    )
    assert report.exit_code == 1
