"""Stored examples: every version of every event keeps the data of one real event beside its
schema (events/schemas/examples/<Type>.v<N>.json), and each must still be readable.

An example must fit the model of its own version, and decode through the catalog's decoder
(the codec, for the live catalog) into the current version, upcast step by step. So every
upcaster is run on data of the version it starts from, and a change to a model that stored
events would not survive fails here even if the registry was regenerated over it.
"""

from collections.abc import Iterable

from pydantic import ValidationError

from events.schema_catalog import Catalog
from events.schema_findings import Finding, GateRule, Severity
from events.schema_registry import Key, file_name


def check_examples(
    catalog: Catalog, examples: dict[Key, bytes], registered: Iterable[Key]
) -> list[Finding]:
    """Findings for missing, invalid and unreadable examples (none when all are well)."""
    findings: list[Finding] = []
    current = catalog.current()
    for model in catalog.models:
        key = (model.event_type, model.schema_version)
        data = examples.get(key)
        if data is None:
            detail = f"no stored example: add examples/{file_name(key)}, the data of one event"
            findings.append(_failure(key, GateRule.EXAMPLE_MISSING, detail))
            continue
        try:
            model.model_validate_json(data)
        except ValidationError as error:
            detail = f"examples/{file_name(key)} does not fit v{key[1]}: {_errors(error)}"
            findings.append(_failure(key, GateRule.EXAMPLE_INVALID, detail))
            continue
        newest = current[model.event_type].schema_version
        try:
            event = catalog.decode(model.event_type, model.schema_version, data)
        except Exception as error:  # an upcaster may fail in any way: that is the finding
            detail = f"examples/{file_name(key)} cannot be read as v{newest}: {_one_line(error)}"
            findings.append(_failure(key, GateRule.EXAMPLE_UNREADABLE, detail))
            continue
        if type(event) is not current[model.event_type]:
            detail = f"examples/{file_name(key)} was read as {type(event).__name__}"
            findings.append(_failure(key, GateRule.EXAMPLE_UNREADABLE, detail))
    known = {(model.event_type, model.schema_version) for model in catalog.models}
    for key in sorted(set(examples) - known - set(registered)):
        detail = f"examples/{file_name(key)} is the example of a version no model defines"
        findings.append(_failure(key, GateRule.EXAMPLE_ORPHANED, detail))
    return findings


def _failure(key: Key, rule: GateRule, detail: str) -> Finding:
    return Finding(key[0], key[1], Severity.FAILURE, rule, detail)


def _errors(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(event)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _one_line(error: Exception) -> str:
    cause = error.__cause__ or error.__context__
    if isinstance(error, ValidationError):
        return _errors(error)
    if isinstance(cause, ValidationError):
        return _errors(cause)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith("For further information")]
    return " / ".join(kept) or type(error).__name__
