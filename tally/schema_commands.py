"""`tally schemas check | export`: the schema gate from the command line.

`check` prints what the gate found and exits 0 (identical or compatible), 3 (a breaking
change without a new version and an upcaster) or 1 (another failure: an unreadable registry,
a missing or unreadable example). `export` writes the models' schemas into the registry and
says what changed, but refuses (exit 3, nothing written) when that would overwrite a
published schema with a breaking change.
"""

from pathlib import Path

import typer

from events.schema_catalog import live_catalog
from events.schema_findings import GateReport, Severity
from events.schema_gate import check
from events.schema_registry import SCHEMA_DIR, RegistryError, load_registry, write_schemas
from events.schema_report import EXPORT, blocks_export, render


def run_check(directory: Path | None) -> int:
    """Compare the models with the registry in `directory` (default events/schemas/)."""
    report = _report(directory)
    if report is None:
        return 1
    for line in render(report, _shown(directory), _export_command(directory)):
        typer.echo(line)
    return report.exit_code


def run_export(directory: Path | None) -> int:
    """Write the schemas of every model into `directory` unless that hides a breaking change."""
    report = _report(directory)
    if report is None:
        return 1
    blocking = [finding for finding in report.findings if blocks_export(finding)]
    if blocking:
        for line in render(report, _shown(directory), _export_command(directory)):
            typer.echo(line)
        typer.echo("nothing written: regenerating would overwrite published schemas (see above)")
        return 3
    try:
        written = write_schemas(directory or SCHEMA_DIR, live_catalog().schemas())
    except (OSError, RegistryError) as error:
        typer.echo(f"tally: cannot write the schemas: {error}", err=True)
        return 1
    for verb, keys in (("added", written.added), ("updated", written.updated)):
        for event_type, version in keys:
            typer.echo(f"{verb} {event_type} v{version}: {_changes(report, event_type, version)}")
    if not written.added and not written.updated:
        typer.echo(f"nothing to write: the registry {_shown(directory)} matches the models")
    left = [f for f in report.findings if f.severity is not Severity.COMPATIBLE]
    if left:
        typer.echo("still to do (`tally schemas check` fails until then):")
        for finding in left:
            typer.echo(f"  {finding.describe()}")
    return 0


def _changes(report: GateReport, event_type: str, version: int) -> str:
    found = [
        f"{finding.rule} {finding.field or ''}".strip()
        for finding in report.of(Severity.COMPATIBLE)
        if (finding.event_type, finding.version) == (event_type, version)
    ]
    return ", ".join(found) or "rewritten"


def _report(directory: Path | None) -> GateReport | None:
    try:
        return check(live_catalog(), load_registry(directory or SCHEMA_DIR))
    except RegistryError as error:
        typer.echo(f"tally: the schema registry cannot be read: {error}", err=True)
        return None


def _shown(directory: Path | None) -> str:
    return "events/schemas" if directory is None else str(directory)


def _export_command(directory: Path | None) -> str:
    return EXPORT if directory is None else f"{EXPORT} --dir {directory}"
