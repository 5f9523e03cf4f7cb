"""The schema compatibility gate: the models against the registry of published schemas.

A published version never changes in a way that stored events would not survive:

- a difference between a version's registered schema and its model is classified
  (`events.schema_diff`); compatible ones only ask for the registry to be regenerated,
  breaking ones fail, naming the event, the field and the rule;
- a version or event type in the registry must keep its model (stored events have it);
- a type at version N needs an upcaster from every version before N;
- every version keeps a stored example that must fit it and read into the current version
  (`events.schema_examples`).

So the one way to make a breaking change pass is a new version with an upcaster from the
old one, tested on the old version's example. `check` is pure apart from the decoder it
runs the examples through.
"""

from events.schema_catalog import Catalog
from events.schema_changes import ROOT, Change, Rule
from events.schema_diff import classify
from events.schema_examples import check_examples
from events.schema_findings import Finding, GateReport, GateRule, Severity, Step
from events.schema_registry import Key, Registry

Schemas = dict[Key, dict[str, object]]


def check(catalog: Catalog, registry: Registry) -> GateReport:
    """Compare `catalog` (the code) with `registry` (what was published)."""
    models = catalog.schemas()
    findings = [
        *_schema_findings(models, registry.schemas),
        *_version_findings(catalog),
        *check_examples(catalog, registry.examples, registry.schemas),
    ]
    return GateReport(
        findings=tuple(findings),
        steps=tuple(_steps(models)),
        current={name: model.schema_version for name, model in catalog.current().items()},
        schemas=len(models),
    )


def _schema_findings(models: Schemas, registered: Schemas) -> list[Finding]:
    model_types = {event_type for event_type, _ in models}
    registered_types = {event_type for event_type, _ in registered}
    findings: list[Finding] = []
    for key in sorted(models.keys() | registered.keys()):
        event_type, version = key
        if key not in models:
            gone = event_type not in model_types
            rule = GateRule.EVENT_TYPE_REMOVED if gone else GateRule.VERSION_REMOVED
            subject = f"{event_type} has no model any more" if gone else "this version has no model"
            detail = f"{subject}; stored v{version} events could not be read"
            findings.append(Finding(event_type, version, Severity.BREAKING, rule, detail))
        elif key not in registered:
            new = event_type not in registered_types
            rule = GateRule.EVENT_TYPE_ADDED if new else GateRule.VERSION_ADDED
            detail = "not in the registry yet"
            findings.append(Finding(event_type, version, Severity.COMPATIBLE, rule, detail))
        elif models[key] != registered[key]:
            changes = classify(registered[key], models[key]) or [_rewritten()]
            findings += [Finding.of_change(event_type, version, change) for change in changes]
    return findings


def _rewritten() -> Change:
    detail = "the registered schema differs from the model's without changing what it accepts"
    return Change(ROOT, Rule.ANNOTATION_CHANGED, detail)


def _version_findings(catalog: Catalog) -> list[Finding]:
    """Every version from 1 to the current one has a model, and an upcaster to the next."""
    findings: list[Finding] = []
    known = {(model.event_type, model.schema_version) for model in catalog.models}
    newest = {name: model.schema_version for name, model in catalog.current().items()}
    for event_type, current in sorted(newest.items()):
        for version in range(1, current):
            if (event_type, version) not in known:
                detail = f"no model of v{version} (between v1 and v{current})"
                findings.append(_found(event_type, version, GateRule.VERSION_GAP, detail))
            if (event_type, version) not in catalog.upcasters:
                detail = (
                    f"nothing upcasts v{version} to v{version + 1}: stored v{version} events "
                    f'could not be read; add UPCASTERS[("{event_type}", {version})]'
                )
                findings.append(_found(event_type, version + 1, GateRule.UPCASTER_MISSING, detail))
    for event_type, version in sorted(catalog.upcasters):
        current = newest.get(event_type, 0)
        if not 1 <= version < current:
            state = f"v{current} is current" if current else "no such event type"
            detail = f"an upcaster from v{version}, but {state}"
            findings.append(_found(event_type, version, GateRule.UPCASTER_STALE, detail))
    return findings


def _found(event_type: str, version: int, rule: GateRule, detail: str) -> Finding:
    severity = Severity.BREAKING if rule is GateRule.UPCASTER_MISSING else Severity.FAILURE
    return Finding(event_type, version, severity, rule, detail)


def _steps(models: Schemas) -> list[Step]:
    """What each upcaster bridges: the changes from each version to the next."""
    return [
        Step(event_type, version, tuple(classify(models[event_type, version], following)))
        for (event_type, version) in sorted(models)
        if (following := models.get((event_type, version + 1))) is not None
    ]
