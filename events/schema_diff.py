"""The classifier: every difference between two JSON schemas of an event, each under a rule.

`classify(old, new)` walks both documents side by side (properties, array items, map values,
unions, `$ref`s into `$defs`) and reports each difference as a `Change` whose rule says
whether an event stored under `old` is still valid under `new`. It is pure: two dicts in,
a list out. The documents are the ones pydantic writes (`model_json_schema`), but nothing
here depends on pydantic.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from events.schema_changes import ROOT, Change, Rule, child, element
from events.schema_keywords import (
    ANNOTATIONS,
    Json,
    accepts,
    compare_annotations,
    compare_bounds,
    compare_enums,
    compare_unrecognised,
    describe_types,
    show,
    types_of,
)

_BRANCHES = ("anyOf", "oneOf")


def classify(old: Json, new: Json) -> list[Change]:
    """The differences from `old` (what events were stored under) to `new`."""
    return _Walk(old.get("$defs", {}), new.get("$defs", {})).compare(old, new, ROOT)


class _Walk:
    """One side-by-side walk; knows both documents' `$defs` and the references it is inside."""

    def __init__(self, old_defs: Json, new_defs: Json) -> None:
        self._old_defs = old_defs
        self._new_defs = new_defs
        self._inside: list[tuple[str | None, str | None]] = []

    def compare(self, old: Any, new: Any, path: str, *, annotated: bool = True) -> list[Change]:
        old, old_ref = _resolve(_as_node(old), self._old_defs)
        new, new_ref = _resolve(_as_node(new), self._new_defs)
        with self._entering(old_ref, new_ref) as recursive:
            if recursive:
                return []  # a recursive model: this pair is being compared further up
            changes = compare_annotations(old, new, path) if annotated else []
            if any(key in node for node in (old, new) for key in _BRANCHES):
                return changes + self._compare_unions(old, new, path)
            return changes + self._compare_node(old, new, path)

    @contextmanager
    def _entering(self, old_ref: str | None, new_ref: str | None) -> Iterator[bool]:
        pair = (old_ref, new_ref)
        if old_ref is not None and pair in self._inside:
            yield True
            return
        self._inside.append(pair)
        try:
            yield False
        finally:
            self._inside.pop()

    def _compare_node(self, old: Json, new: Json, path: str) -> list[Change]:
        before, after = types_of(old), types_of(new)
        if not accepts(after, before):
            detail = f"type {describe_types(before)} -> {describe_types(after)}"
            return [Change(path, Rule.FIELD_RETYPED, detail)]
        changes: list[Change] = []
        if before != after:
            detail = f"type {describe_types(before)} -> {describe_types(after)}"
            changes.append(Change(path, Rule.TYPE_WIDENED, detail))
        changes += compare_enums(old, new, path)
        changes += compare_bounds(old, new, path)
        changes += self._compare_object(old, new, path)
        changes += self._compare_array(old, new, path)
        return changes + compare_unrecognised(old, new, path)

    def _compare_unions(self, old: Json, new: Json, path: str) -> list[Change]:
        """`X | None` and other unions: each old branch must live on in a new branch."""
        news = [(raw, *_resolve(raw, self._new_defs)) for raw in _branches(new)]
        changes: list[Change] = []
        used: set[int] = set()
        for raw in _branches(old):
            node, name = _resolve(raw, self._old_defs)
            kinds = types_of(node)
            fits = [i for i, (_, other, _) in enumerate(news) if accepts(types_of(other), kinds)]
            if not fits:
                detail = f"no longer accepts {describe_types(kinds)}"
                changes.append(Change(path, Rule.FIELD_RETYPED, detail))
                continue
            # a branch not yet taken; the same model by name, else the same types, else any
            fits = [i for i in fits if i not in used] or fits
            same_model = [i for i in fits if name is not None and news[i][2] == name]
            same_types = [i for i in fits if types_of(news[i][1]) == kinds]
            chosen = (same_model or same_types or fits)[0]
            used.add(chosen)
            changes += self.compare(raw, news[chosen][0], path, annotated=False)
        for index in sorted(set(range(len(news))) - used):
            detail = f"now also accepts {describe_types(types_of(news[index][1]))}"
            changes.append(Change(path, Rule.TYPE_WIDENED, detail))
        return changes

    def _compare_object(self, old: Json, new: Json, path: str) -> list[Change]:
        before, after = old.get("properties", {}), new.get("properties", {})
        was_required, is_required = set(old.get("required", ())), set(new.get("required", ()))
        changes: list[Change] = []
        for name in (name for name in before if name in after):
            changes += self.compare(before[name], after[name], child(path, name))
            if name in is_required and name not in was_required:
                changes.append(Change(child(path, name), Rule.FIELD_MADE_REQUIRED, "now required"))
            if name in was_required and name not in is_required:
                changes.append(Change(child(path, name), Rule.FIELD_MADE_OPTIONAL, "now optional"))
        removed = [name for name in before if name not in after]
        added = [name for name in after if name not in before]
        for old_name, new_name in self._renames(before, after, removed, added, path):
            removed.remove(old_name)
            added.remove(new_name)
            detail = f"renamed to {new_name} (stored events still carry {old_name})"
            changes.append(Change(child(path, old_name), Rule.FIELD_RENAMED, detail))
        for name in removed:
            detail = "removed (stored events still carry it)"
            changes.append(Change(child(path, name), Rule.FIELD_REMOVED, detail))
        for name in added:
            changes.append(_added(child(path, name), after[name], name in is_required))
        return changes + self._compare_extra(old, new, path)

    def _renames(
        self, before: Json, after: Json, removed: list[str], added: list[str], path: str
    ) -> list[tuple[str, str]]:
        """Removed and added fields of the same shape (only their titles differ)."""
        pairs: list[tuple[str, str]] = []
        for old_name in removed:
            for new_name in added:
                if new_name in (taken for _, taken in pairs):
                    continue
                changes = self.compare(before[old_name], after[new_name], path)
                if all(change.rule is Rule.ANNOTATION_CHANGED for change in changes):
                    pairs.append((old_name, new_name))
                    break
        return pairs

    def _compare_extra(self, old: Json, new: Json, path: str) -> list[Change]:
        """`additionalProperties`: extra keys forbidden (`false`), free, or map values."""
        if "additionalProperties" not in old and "additionalProperties" not in new:
            return []
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if isinstance(before, dict) and isinstance(after, dict):
            return self.compare(before, after, element(path, "{}"))
        if before == after:
            return []
        looser = before is False or (isinstance(before, dict) and after is True)
        rule = Rule.CONSTRAINT_LOOSENED if looser else Rule.CONSTRAINT_TIGHTENED
        return [Change(path, rule, f"additionalProperties {show(before)} -> {show(after)}")]

    def _compare_array(self, old: Json, new: Json, path: str) -> list[Change]:
        changes: list[Change] = []
        before, after = old.get("prefixItems", []), new.get("prefixItems", [])
        for index in range(max(len(before), len(after))):
            was = before[index] if index < len(before) else old.get("items", {})
            now = after[index] if index < len(after) else new.get("items", {})
            changes += self.compare(was, now, element(path, f"[{index}]"))
        if "items" in old or "items" in new:
            changes += self.compare(old.get("items", {}), new.get("items", {}), element(path, "[]"))
        return changes


def _added(path: str, schema: Json, required: bool) -> Change:
    if required:
        return Change(path, Rule.REQUIRED_FIELD_ADDED, "added as required (stored events lack it)")
    default = f" (default {show(schema['default'])})" if "default" in schema else ""
    return Change(path, Rule.OPTIONAL_FIELD_ADDED, f"added as optional{default}")


def _as_node(schema: Any) -> Json:
    """Boolean schemas as objects: `true` accepts anything, `false` nothing."""
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    return dict(schema)


def _resolve(node: Json, defs: Json) -> tuple[Json, str | None]:
    """Follow `$ref` (and a lone `allOf` wrapper) into `$defs`, keeping sibling keywords."""
    name: str | None = None
    for _ in range(len(defs) + 1):
        if "$ref" in node:
            name = str(node["$ref"]).rpartition("/")[2]
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node = {**defs.get(name, {"$ref": node["$ref"]}), **siblings}
            if "$ref" in node:  # a reference this document cannot resolve
                break
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            siblings = {key: value for key, value in node.items() if key != "allOf"}
            node = {**_as_node(node["allOf"][0]), **siblings}
        else:
            break
    return node, name


def _branches(node: Json) -> list[Json]:
    """The alternatives of a union, or the node itself (without its annotations)."""
    for key in _BRANCHES:
        if key in node:
            return [_as_node(branch) for branch in node[key]]
    return [{key: value for key, value in node.items() if key not in (*ANNOTATIONS, "default")}]
