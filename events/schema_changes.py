"""The vocabulary of the schema gate: the rules a difference between two schemas falls under.

Compatibility is judged from the reader's side: a change is *compatible* when every event
stored under the old schema is still valid under the new one (the new schema accepts a
superset), and *breaking* when some stored event could be rejected or misread.
"""

from dataclasses import dataclass
from enum import StrEnum


class Rule(StrEnum):
    """One kind of difference, named as the gate reports it."""

    # compatible: every old event still validates
    OPTIONAL_FIELD_ADDED = "optional-field-added"
    FIELD_MADE_OPTIONAL = "field-made-optional"
    ANNOTATION_CHANGED = "annotation-changed"
    DEFAULT_CHANGED = "default-changed"
    CONSTRAINT_LOOSENED = "constraint-loosened"
    TYPE_WIDENED = "type-widened"
    ENUM_VALUE_ADDED = "enum-value-added"
    # breaking: some old event could be rejected or read differently
    FIELD_REMOVED = "field-removed"
    FIELD_RENAMED = "field-renamed"
    FIELD_RETYPED = "field-retyped"
    FIELD_MADE_REQUIRED = "field-made-required"
    REQUIRED_FIELD_ADDED = "required-field-added"
    CONSTRAINT_TIGHTENED = "constraint-tightened"
    ENUM_VALUE_REMOVED = "enum-value-removed"
    UNRECOGNISED_CHANGE = "unrecognised-change"


BREAKING_RULES = frozenset(
    {
        Rule.FIELD_REMOVED,
        Rule.FIELD_RENAMED,
        Rule.FIELD_RETYPED,
        Rule.FIELD_MADE_REQUIRED,
        Rule.REQUIRED_FIELD_ADDED,
        Rule.CONSTRAINT_TIGHTENED,
        Rule.ENUM_VALUE_REMOVED,
        Rule.UNRECOGNISED_CHANGE,
    }
)
"""Rules under which a stored event of the old schema may no longer be read."""

ROOT = "(event)"
"""The path of the event document itself (its description, its additional properties)."""


@dataclass(frozen=True)
class Change:
    """One difference between an old and a new schema of an event.

    `path` names the field in the event's data (`lines[].unit_price`), `detail` says what
    changed in words (`maxLength 200 -> 100`).
    """

    path: str
    rule: Rule
    detail: str

    @property
    def breaking(self) -> bool:
        return self.rule in BREAKING_RULES

    def describe(self) -> str:
        kind = "breaking" if self.breaking else "compatible"
        return f"field {self.path}: {self.rule} ({kind}): {self.detail}"


def child(path: str, name: str) -> str:
    """The path of `name` inside the object at `path`."""
    return name if path == ROOT else f"{path}.{name}"


def element(path: str, suffix: str) -> str:
    """The path of an array element (`[]`, `[0]`) or map value (`{}`) below `path`."""
    return f"{path}{suffix}"
