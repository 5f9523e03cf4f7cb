"""Keyword by keyword: is a change to one JSON Schema keyword of a node looser or tighter?

The structural walk (objects, arrays, unions, references) is in `events.schema_diff`; this
module judges the leaf keywords of one node: annotations, types, enums and bounds.
"""

import json
from decimal import Decimal
from typing import Any

from events.schema_changes import Change, Rule

Json = dict[str, Any]

ANNOTATIONS = (
    "title",
    "description",
    "examples",
    "deprecated",
    "$comment",
    "readOnly",
    "writeOnly",
)
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
EXACT = ("pattern", "format", "multipleOf", "uniqueItems")
STRUCTURE = (
    *("type", "properties", "required", "additionalProperties", "items", "prefixItems"),
    *("enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "$schema", "$id", "default"),
)
KNOWN = frozenset((*ANNOTATIONS, *LOWER_BOUNDS, *UPPER_BOUNDS, *EXACT, *STRUCTURE))
"""Keywords the gate understands; a change to any other one is judged breaking."""


def show(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def compare_annotations(old: Json, new: Json, path: str) -> list[Change]:
    """Titles, descriptions, examples and defaults: they never reject an event."""
    changes = [
        Change(path, Rule.ANNOTATION_CHANGED, f"{key} {_before_after(old, new, key)}")
        for key in ANNOTATIONS
        if old.get(key) != new.get(key)
    ]
    if old.get("default") != new.get("default"):
        detail = f"default {_before_after(old, new, 'default')}"
        changes.append(Change(path, Rule.DEFAULT_CHANGED, detail))
    return changes


def _before_after(old: Json, new: Json, key: str) -> str:
    if key not in old:
        return f"added ({show(new[key])})"
    if key not in new:
        return f"removed (was {show(old[key])})"
    return f"{show(old[key])} -> {show(new[key])}"


def types_of(node: Json) -> frozenset[str] | None:
    """The JSON types a node accepts, None for any type."""
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    values = enum_values(node)
    if values is not None:
        return frozenset(_json_type(json.loads(value)) for value in values)
    return None


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    return "null" if value is None else names.get(type(value), "object")


def accepts(new: frozenset[str] | None, old: frozenset[str] | None) -> bool:
    """Does a node of types `new` accept every value of types `old`?"""
    if new is None:
        return True
    if old is None:
        return False
    return all(kind in new or (kind == "integer" and "number" in new) for kind in old)


def describe_types(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))


def enum_values(node: Json) -> set[str] | None:
    """The allowed values (as canonical JSON text) of an `enum` or `const`, else None."""
    if "enum" in node:
        return {show(value) for value in node["enum"]}
    if "const" in node:
        return {show(node["const"])}
    return None


def compare_enums(old: Json, new: Json, path: str) -> list[Change]:
    before, after = enum_values(old), enum_values(new)
    if before == after:
        return []
    if after is None:
        return [Change(path, Rule.CONSTRAINT_LOOSENED, "no longer limited to a set of values")]
    if before is None:
        allowed = ", ".join(sorted(after))
        return [Change(path, Rule.CONSTRAINT_TIGHTENED, f"now limited to {allowed}")]
    gone = [Change(path, Rule.ENUM_VALUE_REMOVED, f"{v} removed") for v in sorted(before - after)]
    gained = [Change(path, Rule.ENUM_VALUE_ADDED, f"{v} added") for v in sorted(after - before)]
    return gone + gained


def compare_bounds(old: Json, new: Json, path: str) -> list[Change]:
    """Minimums, maximums, lengths, patterns and formats."""
    changes: list[Change] = []
    for key in (*LOWER_BOUNDS, *UPPER_BOUNDS, *EXACT):
        if old.get(key) == new.get(key):
            continue
        tighter = _tighter(key, old.get(key), new.get(key))
        rule = Rule.CONSTRAINT_TIGHTENED if tighter else Rule.CONSTRAINT_LOOSENED
        changes.append(Change(path, rule, f"{key} {_before_after(old, new, key)}"))
    return changes


def _tighter(key: str, before: Any, after: Any) -> bool:
    if after is None or after is False:
        return False  # a bound removed accepts more
    if before is None or before is False:
        return True  # a bound added may reject what was stored
    if key in LOWER_BOUNDS:
        return bool(after > before)
    if key in UPPER_BOUNDS:
        return bool(after < before)
    if key == "multipleOf":  # every multiple of the old step is one of a divisor of it
        return Decimal(str(before)) % Decimal(str(after)) != 0
    return True  # another pattern or format: nothing proves it accepts every old value


def compare_unrecognised(old: Json, new: Json, path: str) -> list[Change]:
    """Keywords the gate does not understand: any change to them is judged breaking."""
    keys = sorted(key for key in {*old, *new} - KNOWN if not key.startswith("x-"))
    return [
        Change(path, Rule.UNRECOGNISED_CHANGE, f"{key} {_before_after(old, new, key)}")
        for key in keys
        if old.get(key) != new.get(key)
    ]
