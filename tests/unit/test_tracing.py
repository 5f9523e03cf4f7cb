"""Tracing's parts without servers: which variables turn it on, the traceparent header, and
the spans the write side, fulfilment and a projector batch make (in-memory store, the
SDK's in-memory exporter)."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from events.codec import RecordedEvent, decode, encode
from events.envelope import TRACEPARENT, Envelope
from events.stock import StockReceived
from support.command_doubles import given, memory_store
from tally.tracing.commands import TracedCommandService
from tally.tracing.context import span_context_of, traceparent_of
from tally.tracing.fulfilment import traced_handler
from tally.tracing.projections import batch_spans
from tally.tracing.switch import exporter_named
from write_side.aggregates import STOCK_ITEM
from write_side.command_service import Metadata
from write_side.domain.stock import OutOfStock, ReserveStock
from write_side.fulfilment.plan import ACK, Outcome

TRACEPARENT_A = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACEPARENT_B = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exported() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


@pytest.mark.parametrize(
    ("environ", "exporter"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, None),
    ],
)
def test_tracing_is_on_only_when_the_variables_ask(
    environ: dict[str, str], exporter: str | None
) -> None:
    assert exporter_named(environ) == exporter


def test_a_traceparent_is_read_and_written_as_w3c_says() -> None:
    context = span_context_of(TRACEPARENT_A)
    assert context is not None and context.is_remote and context.trace_flags.sampled
    assert traceparent_of(context) == TRACEPARENT_A
    unsampled = span_context_of(TRACEPARENT_A[:-2] + "00")
    assert unsampled is not None and not unsampled.trace_flags.sampled
    for bad in (
        None,
        "",
        "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # invalid trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # invalid span id
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-xyz92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ):
        assert span_context_of(bad) is None, bad


def test_an_event_carries_a_traceparent_only_when_traced() -> None:
    event = StockReceived(quantity=1)
    _, untraced = encode(event, Envelope())
    assert TRACEPARENT not in untraced
    data, headers = encode(event, Envelope(traceparent=TRACEPARENT_A))
    assert headers[TRACEPARENT] == TRACEPARENT_A
    recorded = decode(data, headers, stream="STOCK", seq=1, subject="stock.A")
    assert recorded.envelope.traceparent == TRACEPARENT_A


async def test_a_command_span_holds_its_append_whose_context_the_events_carry(
    exported: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    store = memory_store()
    await given(store, "stock.A", StockReceived(quantity=5))
    service = TracedCommandService(store, tracer=tracer, max_attempts=3)
    meta = Metadata(correlation_id="corr-1", causation_id="event-9")

    result = await service.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), meta)

    spans = {span.name: span for span in exporter.get_finished_spans()}
    command, append = spans["command ReserveStock"], spans["append STOCK"]
    assert append.parent is not None and command.context is not None
    assert append.parent.span_id == command.context.span_id
    assert append.kind == SpanKind.PRODUCER
    assert (
        dict(command.attributes or {}).items()
        >= {
            "tally.correlation_id": "corr-1",
            "tally.causation_id": "event-9",
            "tally.subject": "stock.A",
            "tally.outcome": "appended",
            "tally.position": str(result.position),
        }.items()
    )
    assert (append.attributes or {})["tally.last_seq"] == result.position.seq
    trace_id, span_id = hex_ids(append)
    stored = (await store.load("stock.A")).events[-1]
    assert append.context is not None and append.context.trace_flags.sampled
    flags = f"{append.context.trace_flags:02x}"  # 03 with the W3C level 2 "random" bit
    assert stored.envelope.traceparent == f"00-{trace_id}-{span_id}-{flags}"
    assert "load STOCK" in spans  # the fold that the decision needed


async def test_a_refused_command_is_an_answer_not_an_error(
    exported: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    store = memory_store()
    await given(store, "stock.A", StockReceived(quantity=1))
    service = TracedCommandService(store, tracer=tracer, max_attempts=3)

    with pytest.raises(OutOfStock):
        await service.handle(STOCK_ITEM, "A", ReserveStock("o1", 2), Metadata("corr-2"))

    (command,) = [s for s in exporter.get_finished_spans() if s.name.startswith("command")]
    assert (command.attributes or {})["tally.outcome"] == "refused"
    assert command.status.status_code != StatusCode.ERROR


@dataclass
class _Message:
    seq: int
    headers: dict[str, str] = field(default_factory=dict)
    stream: str = "ORDERS"


def test_a_batch_is_a_child_of_its_first_traced_event_and_links_to_every_trace(
    exported: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    messages = [
        _Message(7),  # from before tracing: no header
        _Message(8, {TRACEPARENT: TRACEPARENT_A, "Tally-Correlation-Id": "c-a"}),
        _Message(9, {TRACEPARENT: TRACEPARENT_B, "Tally-Correlation-Id": "c-b"}),
        _Message(10, {TRACEPARENT: TRACEPARENT_A}),
        _Message(11, {TRACEPARENT: "not a traceparent"}),
    ]
    with batch_spans(tracer)("orders", messages):
        pass

    (batch,) = exporter.get_finished_spans()
    assert batch.name == "project orders" and batch.kind == SpanKind.CONSUMER
    assert batch.parent is not None and batch.parent.span_id == 0x00F067AA0BA902B7
    linked = [(link.context.trace_id, link.context.span_id) for link in batch.links]
    assert linked == [
        (0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7),
        (0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331),
    ]
    attributes: dict[str, Any] = dict(batch.attributes or {})
    assert (attributes["tally.first_seq"], attributes["tally.last_seq"]) == (7, 11)
    assert list(attributes["tally.correlation_ids"]) == ["c-a", "c-b"]


async def test_fulfilment_continues_the_trace_an_event_carries(
    exported: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    data, headers = encode(StockReceived(quantity=1), Envelope(traceparent=TRACEPARENT_A))
    recorded = decode(data, headers, stream="STOCK", seq=3, subject="stock.A")

    async def handler(event: RecordedEvent) -> Outcome:
        return ACK

    assert await traced_handler(handler, tracer)(recorded) is ACK

    (handled,) = exporter.get_finished_spans()
    assert hex_ids(handled)[0] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert handled.parent is not None and handled.parent.span_id == 0x00F067AA0BA902B7
    assert (handled.attributes or {})["tally.correlation_id"] == recorded.envelope.correlation_id
