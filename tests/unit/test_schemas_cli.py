"""`tally schemas check | export` on copies of the registry: what they print and exit with."""

import json
from pathlib import Path

from typer.testing import CliRunner

from events.schema_registry import file_name
from support.event_copies import registry_copy
from tally.cli import app


def tally(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["schemas", *args])
    return result.exit_code, result.output


def edit_schema(directory: Path, key: tuple[str, int], edit: str, field: str) -> None:
    """Make the registered schema of `key` differ from its model in `field`."""
    path = directory / file_name(key)
    schema = json.loads(path.read_text())
    if edit == "drop":  # the registry lacks a field the model has
        del schema["properties"][field]
        schema["required"] = [name for name in schema.get("required", []) if name != field]
    else:  # the registry has a required field the model lacks
        schema["properties"][field] = {"type": "string", "title": field}
        schema["required"] = [*schema.get("required", []), field]
    path.write_text(json.dumps(schema))


def test_check_on_the_committed_registry_finds_it_identical() -> None:
    code, output = tally("check")
    assert code == 0
    assert output.startswith("event schemas: identical (14 schemas of 13 event types")
    assert "OrderPlaced v1 -> v2" in output


def test_check_exits_3_naming_a_breaking_change(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    edit_schema(directory, ("OrderCancelled", 1), "add", "refund_id")
    code, output = tally("check", "--dir", str(directory))
    assert code == 3
    assert "OrderCancelled v1, field refund_id: field-removed: removed" in output
    assert "make the change in OrderCancelled v2" in output


def test_check_exits_0_on_a_compatible_change_and_says_to_export(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    edit_schema(directory, ("OrderRejected", 1), "drop", "detail")
    code, output = tally("check", "--dir", str(directory))
    assert code == 0
    assert "OrderRejected v1, field detail: optional-field-added" in output
    assert f"run `scripts/tally schemas export --dir {directory}`" in output


def test_check_exits_1_on_an_unreadable_registry(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    (directory / file_name(("OrderShipped", 1))).write_text("{")
    code, output = tally("check", "--dir", str(directory))
    assert code == 1
    assert "the schema registry cannot be read" in output and "OrderShipped.v1.json" in output


def test_check_exits_1_on_a_missing_example(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    (directory / "examples" / file_name(("StockShipped", 1))).unlink()
    code, output = tally("check", "--dir", str(directory))
    assert code == 1
    assert "StockShipped v1: example-missing" in output


def test_export_writes_a_compatible_change_and_says_what_changed(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    edit_schema(directory, ("OrderRejected", 1), "drop", "detail")
    code, output = tally("export", "--dir", str(directory))
    assert (code, output) == (0, "updated OrderRejected v1: optional-field-added detail\n")
    assert tally("check", "--dir", str(directory))[1].startswith("event schemas: identical")


def test_export_refuses_to_overwrite_a_breaking_change(tmp_path: Path) -> None:
    directory = registry_copy(tmp_path)
    edit_schema(directory, ("OrderCancelled", 1), "add", "refund_id")
    before = (directory / file_name(("OrderCancelled", 1))).read_text()
    code, output = tally("export", "--dir", str(directory))
    assert code == 3
    assert "nothing written" in output
    assert (directory / file_name(("OrderCancelled", 1))).read_text() == before


def test_export_into_an_empty_directory_writes_every_schema(tmp_path: Path) -> None:
    code, output = tally("export", "--dir", str(tmp_path / "out"))
    assert code == 0
    assert "added OrderPlaced v1: event-type-added" in output
    assert "still to do" in output and "example-missing" in output
    assert len(list((tmp_path / "out").glob("*.json"))) == 14
    assert tally("export", "--dir", str(tmp_path / "out"))[1].startswith("nothing to write")
