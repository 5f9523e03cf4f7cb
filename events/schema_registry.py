"""The schema registry on disk: one JSON Schema per event type and version, and examples.

```
events/schemas/OrderPlaced.v2.json            the schema of OrderPlaced version 2
events/schemas/examples/OrderPlaced.v1.json   the data of a stored OrderPlaced v1 event
```

The committed files are the registry: what events were (and are) written as. The gate
(`events.schema_gate`) compares the models with them; this module only reads and writes.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent / "schemas"
"""The registry in this source tree."""

EXAMPLES = "examples"
"""The registry's subdirectory of stored example events."""

Key = tuple[str, int]
"""(event type, schema version)."""

_FILE_NAME = re.compile(r"^(?P<type>[A-Za-z][A-Za-z0-9]*)\.v(?P<version>[1-9][0-9]*)\.json$")


class RegistryError(Exception):
    """A registry that cannot be read: a bad file name, a file that is not a JSON object."""


@dataclass(frozen=True)
class Registry:
    """The documents of one registry directory, by (event type, version)."""

    directory: Path
    schemas: dict[Key, dict[str, Any]] = field(default_factory=dict)
    examples: dict[Key, bytes] = field(default_factory=dict)


def file_name(key: Key) -> str:
    """`OrderPlaced.v2.json` for ("OrderPlaced", 2)."""
    event_type, version = key
    return f"{event_type}.v{version}.json"


def example_path(directory: Path, key: Key) -> Path:
    return directory / EXAMPLES / file_name(key)


def render(schema: dict[str, Any]) -> str:
    """The committed text of a schema: sorted keys, two-space indent, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def load_registry(directory: Path) -> Registry:
    """Read every schema and example under `directory` (missing directories are empty)."""
    schemas = {key: _object(path) for key, path in _entries(directory)}
    examples = {key: path.read_bytes() for key, path in _entries(directory / EXAMPLES)}
    return Registry(directory=directory, schemas=schemas, examples=examples)


def _entries(directory: Path) -> list[tuple[Key, Path]]:
    if not directory.is_dir():
        return []
    entries = []
    for path in sorted(directory.glob("*.json")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise RegistryError(f"{path}: not named <EventType>.v<version>.json")
        entries.append(((match["type"], int(match["version"])), path))
    return entries


def _object(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RegistryError(f"{path}: {error}") from None
    if not isinstance(document, dict):
        raise RegistryError(f"{path}: not a JSON object")
    return document


def write_schemas(directory: Path, schemas: dict[Key, dict[str, Any]]) -> "Written":
    """Write `schemas` into `directory` and say what changed.

    Nothing is deleted: the schema of a version no longer produced is a breaking change that
    the gate refuses before anything is written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    before = dict(_entries(directory))
    written = Written()
    for key, schema in sorted(schemas.items()):
        path, text = directory / file_name(key), render(schema)
        if key not in before:
            written.added.append(key)
        elif path.read_text() != text:
            written.updated.append(key)
        else:
            continue
        path.write_text(text)
    return written


@dataclass
class Written:
    """What `write_schemas` did, by (event type, version)."""

    added: list[Key] = field(default_factory=list)
    updated: list[Key] = field(default_factory=list)
