"""Hypothesis strategies for request bodies, read from a pydantic model's JSON schema.

Free-text strings draw mostly from the whole of Unicode (control characters and lone
surrogates included), so that a property such as "whatever the API accepts, the views can
store" meets the hostile values, not only the polite ones; strings of a structural pattern
(SKU, money, currency) mostly match it, so that the free text of a body is often the only
thing between it and a 202.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from write_side.http.schemas import FREE_TEXT_PATTERN

# The characters that break things downstream (NUL is the one PostgreSQL refuses), often.
AWKWARD = ["\x00", "\x01", "\t", "\n", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\ufeff"]
AWKWARD += ["\u2028", "\u202e", "\U0010ffff", "'", '"', "\\", "%"]
ANY_CHARACTER = st.one_of(
    st.sampled_from(AWKWARD), st.characters(codec=None, exclude_categories=())
)


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    # lists joined, not st.text(alphabet): text() merges the alphabet into one range of
    # code points and the awkward characters would be drawn no more often than any other
    size = {"min_size": low, "max_size": max(low, min(high, 40))}
    hostile = st.lists(ANY_CHARACTER, **size).map("".join)
    pattern = schema.get("pattern")
    if pattern is None or pattern == FREE_TEXT_PATTERN:
        return hostile
    polite = st.from_regex(pattern, fullmatch=True)
    return st.integers(0, 9).flatmap(lambda n: hostile if n == 0 else polite)


def _from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        return _from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(_from_schema(schema["items"], defs), min_size=low, max_size=low + 2)
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: _from_schema(sub, defs) for name, sub in properties.items() if name in required},
            optional={
                name: _from_schema(sub, defs)
                for name, sub in properties.items()
                if name not in required
            },
        )
    raise NotImplementedError(f"no strategy for {schema}")


def bodies(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    schema = model.model_json_schema()
    return _from_schema(schema, schema.get("$defs", {}))
