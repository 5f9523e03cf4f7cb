"""The gate on what surrounds the schemas: versions and event types that disappear or appear,
upcasters, stored examples, and a registry that cannot be read."""

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from events.base import Event
from events.orders import OrderPlacedV1, OrderShipped
from events.registry import UPCASTERS
from events.schema_findings import GateRule, Severity, Verdict
from events.schema_gate import check
from events.schema_registry import RegistryError, example_path, file_name, load_registry
from support.event_copies import catalog_with, live_registry, registry_copy


class OrderNoted(Event):
    event_type: ClassVar[str] = "OrderNoted"

    note: str = Field(min_length=1, max_length=500)


def findings(report: Any) -> set[tuple[str, int, str]]:
    return {(f.event_type, f.version, f.rule) for f in report.findings}


def test_dropping_an_old_versions_model_is_breaking() -> None:
    report = check(catalog_with(without=(OrderPlacedV1,)), live_registry())
    assert findings(report) == {
        ("OrderPlaced", 1, GateRule.VERSION_REMOVED),
        ("OrderPlaced", 1, GateRule.VERSION_GAP),
    }
    assert report.exit_code == 3


def test_dropping_an_event_type_is_breaking() -> None:
    report = check(catalog_with(without=(OrderShipped,)), live_registry())
    assert findings(report) == {("OrderShipped", 1, GateRule.EVENT_TYPE_REMOVED)}
    assert "stored v1 events could not be read" in report.findings[0].detail
    assert report.verdict is Verdict.BREAKING


def test_a_new_event_type_is_compatible_once_it_has_an_example(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    catalog = catalog_with(OrderNoted)
    assert findings(check(catalog, load_registry(directory))) == {
        ("OrderNoted", 1, GateRule.EVENT_TYPE_ADDED),
        ("OrderNoted", 1, GateRule.EXAMPLE_MISSING),
    }
    example_path(directory, ("OrderNoted", 1)).write_text('{"note": "leave at the door"}')
    report = check(catalog, load_registry(directory))
    assert findings(report) == {("OrderNoted", 1, GateRule.EVENT_TYPE_ADDED)}
    assert report.verdict is Verdict.COMPATIBLE


def test_an_upcaster_from_a_version_that_is_current_is_stale() -> None:
    upcasters = {**UPCASTERS, ("OrderShipped", 1): dict, ("Nonsense", 1): dict}
    report = check(catalog_with(upcasters=upcasters), live_registry())
    assert findings(report) == {
        ("OrderShipped", 1, GateRule.UPCASTER_STALE),
        ("Nonsense", 1, GateRule.UPCASTER_STALE),
    }
    assert report.exit_code == 1


def test_an_example_that_does_not_fit_its_version_fails(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    example_path(directory, ("StockReceived", 1)).write_text('{"quantity": 0}')
    report = check(catalog_with(), load_registry(directory))
    [failure] = report.of(Severity.FAILURE)
    assert (failure.event_type, failure.rule) == ("StockReceived", GateRule.EXAMPLE_INVALID)
    assert "quantity: Input should be greater than or equal to 1" in failure.detail


def test_an_example_of_a_version_nobody_defines_is_orphaned(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    example_path(directory, ("OrderShipped", 2)).write_text("{}")
    report = check(catalog_with(), load_registry(directory))
    assert findings(report) == {("OrderShipped", 2, GateRule.EXAMPLE_ORPHANED)}


def test_a_registered_schema_rewritten_without_changing_it_asks_for_a_regeneration(
    tmp_path: Path,
) -> None:
    directory = registry_copy(tmp_path)
    path = directory / file_name(("StockAdjusted", 1))
    schema = json.loads(path.read_text())
    schema["required"].reverse()
    path.write_text(json.dumps(schema))
    report = check(catalog_with(), load_registry(directory))
    assert report.verdict is Verdict.COMPATIBLE
    assert "without changing what it accepts" in report.findings[0].detail


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("OrderPlaced.json", "{}", "not named <EventType>.v<version>.json"),
        ("OrderPlaced.v3.json", "{not json", "Expecting property name"),
        ("OrderPlaced.v3.json", "[]", "not a JSON object"),
    ],
)
def test_a_registry_that_cannot_be_read_says_which_file(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    directory = registry_copy(tmp_path)
    (directory / name).write_text(text)
    with pytest.raises(RegistryError, match=problem) as raised:
        load_registry(directory)
    assert name in str(raised.value)


def test_a_missing_registry_is_empty(tmp_path: Path) -> None:
    report = check(catalog_with(), load_registry(tmp_path / "nowhere"))
    assert {f.rule for f in report.findings} == {
        GateRule.EVENT_TYPE_ADDED,
        GateRule.EXAMPLE_MISSING,
    }
