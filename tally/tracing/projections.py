"""The projector's batches traced: one span per batch applied (the view's transaction, its
PostgreSQL statements beneath it), linked to the trace of every event it applied and a
child of the first one's, so the trace of a request shows the view it reached."""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from opentelemetry.trace import Link, Span, SpanKind, Tracer

from events.envelope import CORRELATION_ID, TRACEPARENT
from tally.tracing.context import parent_context, span_context_of

# OpenTelemetry's default limit of links per span: more would be dropped by the SDK.
MAX_LINKS = 128


class Message(Protocol):
    @property
    def stream(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


BatchSpan = Callable[[str, Sequence[Message]], AbstractContextManager[Span]]


def batch_spans(tracer: Tracer) -> BatchSpan:
    """What the projector opens around each batch it applies: `span(view, messages)`."""

    def span(view: str, messages: Sequence[Message]) -> AbstractContextManager[Span]:
        links: list[Link] = []
        first: str | None = None
        seen: set[str] = set()
        correlation_ids: set[str] = set()
        for message in messages:
            correlation_id = message.headers.get(CORRELATION_ID)
            if correlation_id and len(correlation_ids) < MAX_LINKS:
                correlation_ids.add(correlation_id)
            traceparent = message.headers.get(TRACEPARENT)
            if not traceparent or traceparent in seen or len(links) >= MAX_LINKS:
                continue
            remote = span_context_of(traceparent)
            if remote is not None:
                seen.add(traceparent)
                first = first or traceparent
                links.append(Link(remote, {"tally.seq": message.seq}))
        return tracer.start_as_current_span(
            f"project {view}",
            context=parent_context(first),
            kind=SpanKind.CONSUMER,
            links=links,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.batch.message_count": len(messages),
                "tally.projection": view,
                "tally.stream": messages[0].stream if messages else "",
                "tally.first_seq": min((m.seq for m in messages), default=0),
                "tally.last_seq": max((m.seq for m in messages), default=0),
                "tally.correlation_ids": sorted(correlation_ids),
            },
        )

    return span
