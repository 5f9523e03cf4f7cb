"""OpenTelemetry tracing: off unless the standard OTEL_* variables ask for it.

`setup.py` builds the tracer provider and exporter from the environment (nothing at all
when tracing is off, so the hot paths are untouched); the other modules are wrappers the
composition root puts around the parts it builds when tracing is on:

- `http.py`: the server span of each request, continuing a received `traceparent`;
- `commands.py`: the command span and the append/load spans of the event store; the
  append writes its span's context into each event's `traceparent` header;
- `fulfilment.py`: the span of each order event fulfilment handles, a child of the trace
  the event carries, so the steps it takes (and the events they append) continue it;
- `projections.py`: the span of each projector batch, linked to the traces of the events
  it applied.
"""
