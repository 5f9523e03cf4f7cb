"""Fulfilment traced: each order event it handles is a span in the trace the event carries
(its `traceparent`), so the steps it takes, i.e. the commands it sends and the events they
append, continue the trace of the request that placed the order. Payment gateway calls
are spans too (the HTTP gateway's requests also get httpx's own spans beneath them)."""

from decimal import Decimal

from opentelemetry.trace import SpanKind, Tracer

from events.codec import RecordedEvent
from tally.tracing.context import parent_context
from write_side.fulfilment.consumer import Handler
from write_side.fulfilment.gateway import PaymentGateway, PaymentRequest, PaymentResult
from write_side.fulfilment.plan import Outcome, Retry


def traced_handler(handler: Handler, tracer: Tracer) -> Handler:
    """`handler`, with a consumer span per order event, a child of the event's trace."""

    async def handle(recorded: RecordedEvent) -> Outcome:
        envelope = recorded.envelope
        event_type = recorded.event_type
        with tracer.start_as_current_span(
            f"fulfil {event_type}",
            context=parent_context(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "process",
                "messaging.destination.name": recorded.subject,
                "messaging.message.id": str(envelope.event_id),
                "tally.event_type": event_type,
                "tally.stream": recorded.stream,
                "tally.seq": recorded.seq,
                "tally.order_id": recorded.aggregate_id,
                "tally.correlation_id": envelope.correlation_id,
                "tally.causation_id": str(envelope.event_id),
            },
        ) as span:
            outcome = await handler(recorded)
            span.set_attribute("tally.outcome", "parked" if isinstance(outcome, Retry) else "done")
            if isinstance(outcome, Retry):
                span.set_attribute("tally.retry_in_seconds", outcome.delay)
            return outcome

    return handle


class TracedGateway:
    """A PaymentGateway whose calls are spans (every attempt the breaker lets through)."""

    def __init__(self, gateway: PaymentGateway, tracer: Tracer) -> None:
        self._gateway = gateway
        self._tracer = tracer

    async def authorize(self, request: PaymentRequest) -> PaymentResult:
        with self._tracer.start_as_current_span(
            "payment authorize",
            kind=SpanKind.CLIENT,
            attributes={"tally.order_id": request.order_id, "tally.amount": str(request.amount)},
        ) as span:
            result = await self._gateway.authorize(request)
            span.set_attribute("tally.result", type(result).__name__)
            return result

    async def refund(self, order_id: str, authorization_id: str, amount: Decimal) -> None:
        with self._tracer.start_as_current_span(
            "payment refund",
            kind=SpanKind.CLIENT,
            attributes={"tally.order_id": order_id, "tally.amount": str(amount)},
        ):
            await self._gateway.refund(order_id, authorization_id, amount)

    async def aclose(self) -> None:
        await self._gateway.aclose()
