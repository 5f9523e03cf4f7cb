"""The gate's report in words: what it found, grouped by severity, and what to do about it.

The same text is printed by `tally schemas check` and carried by the failing test, so that
either one tells a developer the next step (regenerate, or add a version and an upcaster).
"""

from events.schema_changes import Rule
from events.schema_findings import Finding, GateReport, GateRule, Severity

EXPORT = "scripts/tally schemas export"
"""The command that regenerates the registry in this repository."""

_HEADINGS = {
    Severity.BREAKING: "breaking (stored events of these versions could no longer be read):",
    Severity.FAILURE: "failures (the registry is incomplete or wrong):",
    Severity.COMPATIBLE: "compatible (the registry is behind the models):",
}


def render(report: GateReport, where: str, export: str = EXPORT) -> list[str]:
    """The report as lines of text; `where` names the registry, `export` the command."""
    lines = [
        f"event schemas: {report.verdict} ({report.schemas} schemas of "
        f"{len(report.current)} event types, registry {where})"
    ]
    for severity in (Severity.BREAKING, Severity.FAILURE, Severity.COMPATIBLE):
        found = report.of(severity)
        if found:
            lines.append(_HEADINGS[severity])
            lines += [f"  {finding.describe()}" for finding in found]
    if report.steps:
        lines.append("upcasters bridge:")
        lines += [f"  {step.describe()}" for step in report.steps]
    advice = next_steps(report, export)
    if advice:
        lines.append("what to do:")
        lines += [f"  - {line}" for line in advice]
    return lines


def next_steps(report: GateReport, export: str = EXPORT) -> list[str]:
    """One line of advice per event version that needs a fix, then the regeneration."""
    advice: list[str] = []
    for event_type, version in sorted({_key(f) for f in report.of(Severity.BREAKING)}):
        rules = {f.rule for f in report.of(Severity.BREAKING) if _key(f) == (event_type, version)}
        if rules & set(Rule):
            current = report.current.get(event_type)
            advice.append(_new_version(event_type, version, current, export))
        if rules & {GateRule.EVENT_TYPE_REMOVED, GateRule.VERSION_REMOVED}:
            advice.append(
                f"keep a model of {event_type} v{version} (in HISTORIC in events/registry.py): "
                "stored events of it are read for ever"
            )
    if report.of(Severity.COMPATIBLE) and not report.of(Severity.BREAKING):
        advice.append(f"the changes are compatible: run `{export}` and commit the registry")
    return advice


def _key(finding: Finding) -> tuple[str, int]:
    return finding.event_type, finding.version


def _new_version(event_type: str, version: int, current: int | None, export: str) -> str:
    if current is not None and version < current:
        return (
            f"{event_type} v{version} is an old version: its model must keep the schema "
            "it was published with (restore it in HISTORIC)"
        )
    return (
        f"{event_type} v{version} is published and stored events have its shape: keep its "
        f"model as it is (move it to HISTORIC in events/registry.py as {event_type}V{version}), "
        f"make the change in {event_type} v{version + 1}, add "
        f'UPCASTERS[("{event_type}", {version})] turning v{version} data into v{version + 1}, '
        f"keep examples/{event_type}.v{version}.json, then run `{export}`"
    )


def blocks_export(finding: Finding) -> bool:
    """Would regenerating hide this finding? (A changed published schema would be overwritten.)"""
    return finding.severity is Severity.BREAKING and finding.rule in set(Rule)
