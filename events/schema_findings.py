"""What the schema gate found: findings, their severity, and the verdict they add up to."""

from dataclasses import dataclass
from enum import StrEnum

from events.schema_changes import ROOT, Change


class Severity(StrEnum):
    COMPATIBLE = "compatible"
    """The models moved on compatibly: regenerate the registry."""
    BREAKING = "breaking"
    """A stored event could no longer be read: a new version and an upcaster are needed."""
    FAILURE = "failure"
    """The registry is incomplete or wrong (a missing or unreadable example, a stale upcaster)."""


class GateRule(StrEnum):
    """Rules about versions, upcasters and examples (the field-level rules are `Rule`)."""

    EVENT_TYPE_ADDED = "event-type-added"
    VERSION_ADDED = "version-added"
    SCHEMA_REWRITTEN = "schema-rewritten"
    EVENT_TYPE_REMOVED = "event-type-removed"
    VERSION_REMOVED = "version-removed"
    UPCASTER_MISSING = "upcaster-missing"
    VERSION_GAP = "version-gap"
    UPCASTER_STALE = "upcaster-stale"
    EXAMPLE_MISSING = "example-missing"
    EXAMPLE_INVALID = "example-invalid"
    EXAMPLE_UNREADABLE = "example-unreadable"
    EXAMPLE_ORPHANED = "example-orphaned"


class Verdict(StrEnum):
    IDENTICAL = "identical"
    COMPATIBLE = "compatible"
    BREAKING = "breaking"
    FAILED = "failed"


EXIT_CODES = {Verdict.IDENTICAL: 0, Verdict.COMPATIBLE: 0, Verdict.BREAKING: 3, Verdict.FAILED: 1}
"""`tally schemas check`: 0 nothing to fix, 3 a breaking change lacks a version and an
upcaster, 1 another failure (see the CLI's exit codes)."""


@dataclass(frozen=True)
class Finding:
    """One thing the gate found about one version of one event type."""

    event_type: str
    version: int
    severity: Severity
    rule: str
    detail: str
    field: str | None = None

    @classmethod
    def of_change(cls, event_type: str, version: int, change: Change) -> "Finding":
        severity = Severity.BREAKING if change.breaking else Severity.COMPATIBLE
        return cls(event_type, version, severity, str(change.rule), change.detail, change.path)

    def where(self) -> str:
        """`OrderPlaced v2, field lines[].sku` (or without the field for the whole event)."""
        place = f"{self.event_type} v{self.version}"
        return place if self.field in (None, ROOT) else f"{place}, field {self.field}"

    def describe(self) -> str:
        return f"{self.where()}: {self.rule}: {self.detail}"


@dataclass(frozen=True)
class Step:
    """The changes from one version of an event type to the next, bridged by an upcaster."""

    event_type: str
    version: int
    changes: tuple[Change, ...]

    def describe(self) -> str:
        head = f"{self.event_type} v{self.version} -> v{self.version + 1}"
        if not self.changes:
            return f"{head}: same schema"
        return f"{head}: {'; '.join(_summary(change) for change in self.changes)}"


def _summary(change: Change) -> str:
    """Breaking changes in full (the upcaster must bridge them), others by rule and field."""
    where = "(event)" if change.path == ROOT else change.path
    return f"{change.rule} {where}" + (f" ({change.detail})" if change.breaking else "")


@dataclass(frozen=True)
class GateReport:
    """Everything one run of the gate found, with the registry it compared against."""

    findings: tuple[Finding, ...]
    steps: tuple[Step, ...]
    current: dict[str, int]
    """Event type -> its current version (the highest one a model defines)."""
    schemas: int

    def of(self, severity: Severity) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity is severity]

    @property
    def verdict(self) -> Verdict:
        if self.of(Severity.BREAKING):
            return Verdict.BREAKING
        if self.of(Severity.FAILURE):
            return Verdict.FAILED
        if self.of(Severity.COMPATIBLE):
            return Verdict.COMPATIBLE
        return Verdict.IDENTICAL

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]
