"""A process's tracing, started when `switch.exporter_named` says the variables ask for it.

Spans go by OTLP over HTTP (protobuf) through a batch processor; the SDK reads the rest of
the standard variables itself: the endpoint and its headers, the sampler
(`OTEL_TRACES_SAMPLER`, default parentbased_always_on), the batch processor's limits,
`OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`. The service name defaults to the
process's name (`tally-api`, `tally-up`, ...). asyncpg and httpx are traced by their
official instrumentations. `Tracing` hands the composition root the traced version of
each part it wraps.
"""

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from starlette.types import ASGIApp

from tally.tracing.commands import TracedCommandService
from tally.tracing.fulfilment import TracedGateway, traced_handler
from tally.tracing.http import traced_app
from tally.tracing.projections import BatchSpan, batch_spans
from tally.tracing.switch import exporter_named, log
from write_side.command_service import CommandService
from write_side.fulfilment.consumer import Handler
from write_side.fulfilment.gateway import PaymentGateway
from write_side.ports import EventStore

TRACER_NAME = "tally"
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


class Tracing:
    """A process's tracer provider, and the traced versions of the parts it wraps."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.batch_span: BatchSpan = batch_spans(self.tracer)

    def command_service(self, store: EventStore, **options: Any) -> CommandService:
        return TracedCommandService(store, tracer=self.tracer, **options)

    def asgi(self, app: ASGIApp) -> ASGIApp:
        return traced_app(app, self.provider)

    def fulfilment_handler(self, handler: Handler) -> Handler:
        return traced_handler(handler, self.tracer)

    def gateway(self, gateway: PaymentGateway) -> PaymentGateway:
        return TracedGateway(gateway, self.tracer)

    async def close(self) -> None:
        """Exports what is still queued (bounded by the SDK's export timeout), then stops
        the instrumentations this process started."""
        await asyncio.to_thread(self.provider.shutdown)
        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        HTTPXClientInstrumentor().uninstrument()


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    protocol = next((environ[key] for key in PROTOCOLS if environ.get(key)), "http/protobuf")
    if protocol.strip() != "http/protobuf":
        log.warning("OTLP protocol %s is not supported: exporting http/protobuf", protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout and compression from OTEL_*


def start_tracing(service: str, environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The process's tracing as the OTEL_* variables ask, or None when they do not."""
    environ = os.environ if environ is None else environ
    name = exporter_named(environ)
    if name is None:
        return None
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)  # the sampler from OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(_exporter(name, environ)))
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    log.info(
        "tracing on", extra={"exporter": name, "service": resource.attributes.get(SERVICE_NAME)}
    )
    return Tracing(provider)
