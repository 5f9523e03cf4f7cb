"""events/schemas/ holds the JSON Schema of every event version, in step with the models."""

from pathlib import Path

from events.registry import CURRENT, HISTORIC
from events.schema_export import SCHEMA_DIR, schema_documents


def test_schema_files_match_the_models() -> None:
    documents = schema_documents()
    on_disk = {path.name: path.read_text() for path in Path(SCHEMA_DIR).glob("*.json")}
    stale = sorted(set(on_disk) ^ set(documents))
    changed = sorted(name for name in documents if on_disk.get(name) != documents[name])
    assert not stale and not changed, (
        f"event schemas drifted (stale {stale}, changed {changed}); "
        "run `python -m events.schema_export` and review the diff"
    )


def test_every_type_and_version_has_a_schema() -> None:
    names = set(schema_documents())
    for model in (*CURRENT.values(), *HISTORIC):
        assert f"{model.event_type}.v{model.schema_version}.json" in names
    assert len(CURRENT) == 13
