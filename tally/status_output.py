"""`tally status` as tables for people and as JSON for scripts."""

from typing import Any

from rich.console import Console
from rich.table import Table

from projections.partitions import parse_checkpoint_key
from tally.operator.progress import Audit
from tally.operator.status import StatusReport
from write_side.fulfilment.status import describe_status


def status_json(report: StatusReport, stall_seconds: float) -> dict[str, Any]:
    breaker = None
    if report.breaker is not None:
        breaker = {"state": report.breaker_state(), "reported": report.breaker}
    return {
        "streams": [vars(row) for row in report.streams],
        "consumers": [vars(row) for row in report.consumers],
        "projections": [view.as_json(stall_seconds) for view in report.projections],
        "dead_letters": report.dead_letters,
        "payment_breaker": breaker,
    }


def audited(audit: Audit | None) -> str:
    """The audit counters of a checkpoint row and whether they add up to its position."""
    if audit is None:
        return "-"
    counts = f"{audit.applied:,} / {audit.dead:,} / {audit.ignored:,}"
    return f"{counts} {'ok' if audit.complete else 'INCOMPLETE'}"


def render_status(report: StatusReport, console: Console, stall_seconds: float) -> None:
    streams = Table("stream", "messages", "first seq", "last seq", "consumers", title="Streams")
    for stream in report.streams:
        streams.add_row(
            stream.name,
            f"{stream.messages:,}",
            str(stream.first_seq),
            str(stream.last_seq),
            str(stream.consumers),
        )
    consumers = Table(
        "stream", "consumer", "pending", "ack pending", "redelivered", title="Consumers"
    )
    for consumer in report.consumers:
        consumers.add_row(
            consumer.stream,
            consumer.name,
            f"{consumer.pending:,}",
            f"{consumer.ack_pending:,}",
            f"{consumer.redelivered:,}",
        )
    projections = Table(
        "projection",
        "partition",
        "stream",
        "position",
        "last seq",
        "lag",
        "state",
        "applied / dead / ignored, audit",
        title="Projections",
    )
    for view in report.projections:
        state = "STALLED" if view.stalled(stall_seconds) else view.state
        state += ", paused" if view.paused else ""
        projections.add_row(
            parse_checkpoint_key(view.name)[0],
            "-" if view.partition is None else str(view.partition),
            view.stream,
            str(view.position),
            str(view.stream_last_seq),
            f"{view.lag:,}",
            state,
            audited(view.audit),
        )
    for table in (streams, consumers, projections):
        console.print(table)
    if not report.projections:
        console.print("projections: unknown (no DATABASE_URL)")
    if report.dead_letters:
        dead = Table("projection", "dead letters", title="Dead letters")
        for name, count in report.dead_letters.items():
            dead.add_row(name, str(count))
        console.print(dead)
    else:
        console.print("no dead letters")
    console.print(describe_status(report.breaker, report.taken_at))
