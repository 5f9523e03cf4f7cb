"""The write side traced: a span per command (its correlation and causation ids, what it
appended and where), and the event store's load and append spans beneath it.

The append span is the one each event names in its `traceparent` header: whoever acts on
the event (a projector, fulfilment) continues or links to the trace from there. Both
wrappers are put in place by the composition root only when tracing is on.
"""

from collections.abc import Sequence
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from events.subjects import split_subject
from tally.tracing.context import traceparent_of
from write_side.aggregates import Aggregate
from write_side.command_service import CommandResult, CommandService, Metadata
from write_side.errors import (
    AggregateNotFound,
    ConcurrencyConflict,
    RuleViolation,
    StoreUnavailable,
)
from write_side.ports import AppendResult, EventStore, LastMessage, LoadedEvents, PendingEvent

S = TypeVar("S")
C = TypeVar("C")
# Answers, not failures: the span says what happened without an error status.
_REFUSALS: dict[type[Exception], str] = {
    RuleViolation: "refused",
    AggregateNotFound: "not_found",
    ConcurrencyConflict: "conflict",
}


class TracedEventStore:
    """An EventStore whose loads and appends are spans; an append writes its span's
    context into each event's envelope (`traceparent`)."""

    def __init__(self, store: EventStore, tracer: Tracer) -> None:
        self._store = store
        self._tracer = tracer

    async def load(self, subject: str, *, from_seq: int = 1) -> LoadedEvents:
        stream, _ = split_subject(subject)
        with self._tracer.start_as_current_span(
            f"load {stream}",
            kind=SpanKind.CLIENT,
            attributes=_messaging(subject, "receive") | {"tally.from_seq": from_seq},
        ) as span:
            loaded = await self._store.load(subject, from_seq=from_seq)
            span.set_attribute("tally.events", len(loaded.events))
            span.set_attribute("tally.last_seq", loaded.last_seq)
            return loaded

    async def append(
        self, subject: str, events: Sequence[PendingEvent], expected_seq: int
    ) -> AppendResult:
        stream, _ = split_subject(subject)
        with self._tracer.start_as_current_span(
            f"append {stream}",
            kind=SpanKind.PRODUCER,
            attributes=_messaging(subject, "send")
            | {
                "messaging.batch.message_count": len(events),
                "tally.expected_seq": expected_seq,
                "tally.events": [item.event.event_type for item in events],
            },
        ) as span:
            traceparent = traceparent_of(span.get_span_context())
            if traceparent is not None:
                events = [
                    PendingEvent(item.event, item.envelope.with_traceparent(traceparent))
                    for item in events
                ]
            result = await self._store.append(subject, events, expected_seq)
            span.set_attribute("tally.stream", result.stream)
            span.set_attribute("tally.first_seq", result.first_seq)
            span.set_attribute("tally.last_seq", result.last_seq)
            span.set_attribute("tally.duplicate", result.duplicate)
            return result

    async def last_message(self, subject: str) -> LastMessage | None:
        return await self._store.last_message(subject)


class TracedCommandService(CommandService):
    """A CommandService whose every command is a span: decided (with the loads it needed)
    and appended beneath it, the correlation and causation ids as attributes."""

    def __init__(self, store: EventStore, *, tracer: Tracer, **options: Any) -> None:
        super().__init__(TracedEventStore(store, tracer), **options)
        self._tracer = tracer

    async def handle(
        self,
        aggregate: Aggregate[S, C],
        aggregate_id: str,
        command: C,
        meta: Metadata,
        *,
        new: bool = False,
    ) -> CommandResult[S]:
        name = type(command).__name__
        with self._tracer.start_as_current_span(
            f"command {name}",
            attributes={
                "tally.command": name,
                "tally.subject": aggregate.subject(aggregate_id),
                "tally.correlation_id": meta.correlation_id,
                "tally.causation_id": meta.causation_id or meta.correlation_id,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                result = await super().handle(aggregate, aggregate_id, command, meta, new=new)
            except Exception as error:
                outcome = next(
                    (name for kind, name in _REFUSALS.items() if isinstance(error, kind)), None
                )
                if outcome is None:
                    unavailable = isinstance(error, StoreUnavailable)
                    outcome = "unavailable" if unavailable else "failed"
                    span.record_exception(error)
                    span.set_status(Status(StatusCode.ERROR, str(error)))
                span.set_attribute("tally.outcome", outcome)
                raise
            span.set_attribute("tally.outcome", "appended" if result.events else "unchanged")
            span.set_attribute("tally.position", str(result.position))
            span.set_attribute("tally.events", [event.event_type for event in result.events])
            return result


def _messaging(subject: str, operation: str) -> dict[str, str]:
    return {
        "messaging.system": "nats",
        "messaging.operation.type": operation,
        "messaging.destination.name": subject,
    }
