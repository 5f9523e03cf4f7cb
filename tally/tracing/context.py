"""W3C Trace Context: the `traceparent` of a span, and the span context one names.

Written and read directly (four fields, fixed widths) rather than through a propagator:
an event carries only this one header, and it is made on every traced append."""

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16


def traceparent_of(context: SpanContext) -> str | None:
    """`00-<trace id>-<span id>-<flags>`; None for an invalid (non-recording) context."""
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def current_traceparent() -> str | None:
    return traceparent_of(trace.get_current_span().get_span_context())


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The remote span context a `traceparent` names; None when absent or malformed
    (version 00 only: a later version's first four fields are read the same way)."""
    if not traceparent:
        return None
    parts = traceparent.strip().split("-")
    if len(parts) < 4 or parts[0] == "ff" or len(parts[0]) != 2:
        return None
    version, trace_id, span_id, flags = parts[:4]
    if version == "00" and len(parts) != 4:
        return None
    if len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2:
        return None
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    try:
        return SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(int(flags, 16)),
        )
    except ValueError:
        return None


def parent_context(traceparent: str | None) -> Context | None:
    """A context whose current span is the one `traceparent` names (None: a new trace)."""
    remote = span_context_of(traceparent)
    if remote is None:
        return None
    return trace.set_span_in_context(NonRecordingSpan(remote))
