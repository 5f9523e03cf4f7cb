"""Writes the JSON Schema of every event version into events/schemas/.

Run `python -m events.schema_export` after changing a model; a test fails when the files
and the models disagree.
"""

import json
import sys
from pathlib import Path

from events.registry import all_models

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_documents() -> dict[str, str]:
    """File name -> JSON text, for every event type and version."""
    documents: dict[str, str] = {}
    for model in all_models():
        schema = model.model_json_schema(mode="serialization")
        schema["title"] = model.event_type
        schema["x-tally-event-type"] = model.event_type
        schema["x-tally-event-version"] = model.schema_version
        name = f"{model.event_type}.v{model.schema_version}.json"
        documents[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    documents = schema_documents()
    for stale in SCHEMA_DIR.glob("*.json"):
        if stale.name not in documents:
            stale.unlink()
    for name, text in documents.items():
        (SCHEMA_DIR / name).write_text(text)
    print(f"wrote {len(documents)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
