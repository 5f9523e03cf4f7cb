"""The classifier: each rule, shown by one change to a small event model.

Each case is a model before and after one change; the classifier must name the field and
the rule. Compatible means every event stored under the old schema still validates.
"""

from decimal import Decimal
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from events.base import Event
from events.schema_catalog import schema_of
from events.schema_changes import BREAKING_RULES, ROOT, Rule
from events.schema_diff import classify


class _Thing(Event):
    event_type: ClassVar[str] = "Thing"


def thing(doc: str | None = None, **fields: Any) -> type[Event]:
    """A copy of an event model `Thing` with these fields (name=(type, Field(...)))."""
    model = create_model("Thing", __base__=_Thing, **fields)
    model.__doc__ = doc
    return model


def found(before: type[Event], after: type[Event]) -> set[tuple[str, Rule]]:
    return {(change.path, change.rule) for change in classify(schema_of(before), schema_of(after))}


class Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: str = Field(max_length=64)
    quantity: int = Field(ge=1)


class NarrowLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: str = Field(max_length=32)
    quantity: int = Field(ge=1)


NAME = (str, Field(max_length=100))
LONG = "x" * 100
CASES: list[tuple[str, type[Event], type[Event], dict[str, Any], set[tuple[str, Rule]]]] = [
    # (case, model before, model after, an event stored before, what the classifier says)
    # compatible
    ("optional field added", thing(name=NAME), thing(name=NAME, note=(str, "")),
     {"name": "x"}, {("note", Rule.OPTIONAL_FIELD_ADDED)}),
    ("field made optional", thing(name=NAME), thing(name=(str, Field("", max_length=100))),
     {"name": "x"}, {("name", Rule.FIELD_MADE_OPTIONAL), ("name", Rule.DEFAULT_CHANGED)}),
    ("description changed", thing("Old words.", name=NAME), thing("New words.", name=NAME),
     {"name": "x"}, {(ROOT, Rule.ANNOTATION_CHANGED)}),
    ("field title changed", thing(name=NAME), thing(name=(str, Field(max_length=100, title="N"))),
     {"name": "x"}, {("name", Rule.ANNOTATION_CHANGED)}),
    ("default changed", thing(note=(str, "a")), thing(note=(str, "b")),
     {"note": "a"}, {("note", Rule.DEFAULT_CHANGED)}),
    ("maximum length raised", thing(name=NAME), thing(name=(str, Field(max_length=200))),
     {"name": LONG}, {("name", Rule.CONSTRAINT_LOOSENED)}),
    ("minimum dropped", thing(n=(int, Field(ge=1))), thing(n=(int, ...)),
     {"n": 1}, {("n", Rule.CONSTRAINT_LOOSENED)}),
    ("made nullable", thing(n=(int, ...)), thing(n=(int | None, ...)),
     {"n": 1}, {("n", Rule.TYPE_WIDENED)}),
    ("integer to number", thing(n=(int, ...)), thing(n=(float, ...)),
     {"n": 3}, {("n", Rule.TYPE_WIDENED)}),
    ("enum value added", thing(r=(Literal["a", "b"], ...)), thing(r=(Literal["a", "b", "c"], ...)),
     {"r": "b"}, {("r", Rule.ENUM_VALUE_ADDED)}),
    # breaking
    ("field removed", thing(name=NAME, n=(int, ...)), thing(name=NAME),
     {"name": "x", "n": 1}, {("n", Rule.FIELD_REMOVED)}),
    ("field renamed", thing(name=NAME), thing(title=NAME),
     {"name": "x"}, {("name", Rule.FIELD_RENAMED)}),
    ("field retyped", thing(name=NAME), thing(name=(int, ...)),
     {"name": "x"}, {("name", Rule.FIELD_RETYPED)}),
    ("no longer nullable", thing(n=(int | None, None)), thing(n=(int, 0)),
     {"n": None}, {("n", Rule.FIELD_RETYPED), ("n", Rule.DEFAULT_CHANGED)}),
    ("field made required", thing(note=(str, "")), thing(note=(str, ...)),
     {}, {("note", Rule.FIELD_MADE_REQUIRED), ("note", Rule.DEFAULT_CHANGED)}),
    ("required field added", thing(name=NAME), thing(name=NAME, n=(int, ...)),
     {"name": "x"}, {("n", Rule.REQUIRED_FIELD_ADDED)}),
    ("maximum length lowered", thing(name=NAME), thing(name=(str, Field(max_length=50))),
     {"name": LONG}, {("name", Rule.CONSTRAINT_TIGHTENED)}),
    ("minimum raised", thing(n=(int, Field(ge=1))), thing(n=(int, Field(ge=2))),
     {"n": 1}, {("n", Rule.CONSTRAINT_TIGHTENED)}),
    ("pattern added", thing(name=NAME), thing(name=(str, Field(max_length=100, pattern="^a"))),
     {"name": "b"}, {("name", Rule.CONSTRAINT_TIGHTENED)}),
    ("enum value removed", thing(r=(Literal["a", "b"], ...)), thing(r=(Literal["a"], ...)),
     {"r": "b"}, {("r", Rule.ENUM_VALUE_REMOVED)}),
    ("nested field narrowed", thing(lines=(tuple[Line, ...], ...)),
     thing(lines=(tuple[NarrowLine, ...], ...)), {"lines": [{"sku": "x" * 40, "quantity": 1}]},
     {("lines[]", Rule.ANNOTATION_CHANGED), ("lines[].sku", Rule.CONSTRAINT_TIGHTENED)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(before, after, expected) for _, before, after, _, expected in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_change_is_named_by_field_and_rule(
    before: type[Event], after: type[Event], expected: set[tuple[str, Rule]]
) -> None:
    assert found(before, after) == expected


def test_every_rule_has_a_case() -> None:
    shown = {rule for *_, expected in CASES for _, rule in expected}
    assert shown | {Rule.UNRECOGNISED_CHANGE} == set(Rule)


@pytest.mark.parametrize(
    ("before", "after", "stored", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_breaking_means_a_stored_event_is_rejected(
    before: type[Event], after: type[Event], stored: dict[str, Any], expected: set[Any]
) -> None:
    """The severity is the models' own behaviour: a compatible change reads the stored event,
    a breaking one (here) rejects it."""
    before.model_validate(stored)
    breaking = any(rule in BREAKING_RULES for _, rule in expected)
    try:
        after.model_validate(stored)
    except ValueError:
        assert breaking, "a change judged compatible rejected an event stored before it"
    else:
        assert not breaking, "a change judged breaking still reads the event stored before it"


def test_identical_schemas_have_no_changes() -> None:
    model = thing(name=NAME, lines=(tuple[Line, ...], ...), total=(Decimal, ...))
    assert classify(schema_of(model), schema_of(model)) == []


def test_a_keyword_the_gate_does_not_know_is_judged_breaking() -> None:
    old = {"type": "object", "properties": {"n": {"type": "integer"}}}
    new = {"type": "object", "properties": {"n": {"type": "integer", "not": {"const": 3}}}}
    [change] = classify(old, new)
    assert (change.path, change.rule, change.breaking) == ("n", Rule.UNRECOGNISED_CHANGE, True)
    assert change.detail == 'not added ({"const": 3})'


def test_a_changed_pattern_cannot_be_proven_looser() -> None:
    old = {"properties": {"s": {"type": "string", "pattern": "^[a-z]+$"}}}
    new = {"properties": {"s": {"type": "string", "pattern": "^[a-z0-9]+$"}}}
    assert [(c.path, c.rule) for c in classify(old, new)] == [("s", Rule.CONSTRAINT_TIGHTENED)]


def test_multiple_of_a_divisor_is_looser() -> None:
    def step(value: float) -> dict[str, Any]:
        return {"properties": {"n": {"type": "number", "multipleOf": value}}}

    assert classify(step(1.0), step(0.5))[0].rule is Rule.CONSTRAINT_LOOSENED
    assert classify(step(0.5), step(0.2))[0].rule is Rule.CONSTRAINT_TIGHTENED


def test_extra_fields_allowed_then_forbidden() -> None:
    free = {"type": "object", "properties": {}}
    closed = {"type": "object", "properties": {}, "additionalProperties": False}
    assert [c.rule for c in classify(closed, free)] == [Rule.CONSTRAINT_LOOSENED]
    assert [c.rule for c in classify(free, closed)] == [Rule.CONSTRAINT_TIGHTENED]


def test_map_values_are_compared_as_a_field() -> None:
    old = {"properties": {"m": {"type": "object", "additionalProperties": {"type": "integer"}}}}
    new = {"properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}}}
    assert [(c.path, c.rule) for c in classify(old, new)] == [("m{}", Rule.FIELD_RETYPED)]


def test_a_recursive_model_is_compared_without_looping() -> None:
    def tree(kind: str) -> dict[str, Any]:
        node = {
            "type": "object",
            "properties": {"v": {"type": kind}, "kids": {"items": {"$ref": "#/$defs/Node"}}},
        }
        return {"$defs": {"Node": node}, "$ref": "#/$defs/Node"}

    assert [(c.path, c.rule) for c in classify(tree("integer"), tree("string"))] == [
        ("v", Rule.FIELD_RETYPED)
    ]


def test_a_recursive_optional_model_is_compared_without_looping() -> None:
    def tree(kind: str) -> dict[str, Any]:
        child = {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}
        node = {"type": "object", "properties": {"v": {"type": kind}, "next": child}}
        return {"$defs": {"Node": node}, "$ref": "#/$defs/Node"}

    assert [(c.path, c.rule) for c in classify(tree("integer"), tree("string"))] == [
        ("v", Rule.FIELD_RETYPED)
    ]


def test_union_branches_are_matched_by_model_name() -> None:
    class A(BaseModel):
        a: int

    class B(BaseModel):
        b: int

    class Wider(BaseModel):
        b: int
        c: str = ""

    before = thing(x=(A | B, ...))
    after = thing(x=(A | Wider, ...))
    assert found(before, after) == {("x.c", Rule.OPTIONAL_FIELD_ADDED)}


def test_every_change_reads_as_a_sentence() -> None:
    [change] = classify(schema_of(thing(name=NAME)), schema_of(thing(name=(int, ...))))
    assert change.describe() == "field name: field-retyped (breaking): type string -> integer"
