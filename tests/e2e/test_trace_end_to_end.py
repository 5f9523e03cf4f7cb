"""Tracing end to end: `tally up` exports OTLP/HTTP to a real receiver (a server in the test
that decodes the protobuf payloads), and one `POST /orders` that brings a `traceparent`
yields one trace: the API's server span continuing it, the command and its append, the
projector's batch, fulfilment's handling of the event and each step it took (their
commands, appends and the payment call), the events fulfilment appended carried on."""

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from support.otlp import OtlpReceiver, ReceivedSpan
from support.tally_process import running_tally
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


async def spans_until(
    receiver: OtlpReceiver, done: Callable[[list[ReceivedSpan]], bool], timeout: float = 60
) -> list[ReceivedSpan]:
    deadline = time.monotonic() + timeout
    while True:
        spans = receiver.trace(TRACE_ID)
        if done(spans):
            return spans
        names = sorted(span.name for span in spans)
        assert time.monotonic() < deadline, f"the trace is incomplete: {names}"
        await asyncio.sleep(0.25)


def named(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.name == name]


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = named(spans, name)
    assert len(found) == 1, f"{name}: {len(found)} spans in {sorted(s.name for s in spans)}"
    return found[0]


async def test_one_order_is_one_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = OtlpReceiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # ms: export soon after the spans
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    with receiver.running(), running_tally(free_port()) as tally:
        async with httpx.AsyncClient(base_url=tally.base, timeout=10) as http:
            received = await http.post("/stock/T1/receive", json={"quantity": 5})
            assert received.status_code == 202, received.text
            # projected before the order: else the stock projector may apply the receipt and
            # the reservation in one batch, whose span is the receipt's trace, not the order's
            after = {"after": received.json()["position"]}
            for _ in range(100):  # each GET waits for the position itself, up to its limit
                if (await http.get("/stock/T1", params=after)).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            line = {"sku": "T1", "quantity": 2, "unit_price": "3.50"}
            answer = await http.post(
                "/orders",
                json={"customer_id": "c", "lines": [line]},
                headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
            )
            assert answer.status_code == 202, answer.text
            order_id = answer.json()["order_id"]
            correlation_id = answer.headers["X-Correlation-ID"]

        def complete(spans: list[ReceivedSpan]) -> bool:
            names = {span.name for span in spans}
            wanted = {"command ConfirmOrder", "project orders", "project stock"}
            return wanted <= names and len(named(spans, "append ORDERS")) >= 2

        spans = await spans_until(receiver, complete)

    by_id = {span.span_id: span for span in spans}
    assert len(by_id) == len(spans), "each span exported once"

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_id in by_id, f"{span.name}: parent {span.parent_id} not in the trace"
        return by_id[span.parent_id]

    # The API continued the caller's trace.
    server = one(spans, "POST /orders")
    assert (server.kind, server.parent_id) == ("server", CALLER_SPAN)
    assert server.attributes["http.route"] == "/orders"
    assert server.attributes["tally.correlation_id"] == correlation_id

    # The command under it, and the append under the command.
    command = one(spans, "command PlaceOrder")
    assert parent(command) == server
    assert command.attributes["tally.correlation_id"] == correlation_id
    assert command.attributes["tally.causation_id"] == correlation_id
    assert command.attributes["tally.subject"] == f"orders.{order_id}"
    assert command.attributes["tally.outcome"] == "appended"
    placed = next(s for s in named(spans, "append ORDERS") if parent(s) == command)
    assert placed.kind == "producer"
    assert placed.attributes["tally.events"] == ["OrderPlaced"]
    assert command.attributes["tally.position"].endswith(str(placed.attributes["tally.last_seq"]))

    # The projector's batch that applied OrderPlaced: a child of the append (the event's
    # traceparent), linked to it, its PostgreSQL statements beneath it.
    batch = next(s for s in named(spans, "project orders") if (TRACE_ID, placed.span_id) in s.links)
    assert parent(batch) == placed
    assert batch.kind == "consumer"
    assert correlation_id in batch.attributes["tally.correlation_ids"]
    assert any(
        s.attributes.get("db.system") == "postgresql" and s.parent_id == batch.span_id
        for s in spans
    ), "the batch's statements"

    # Fulfilment handled the event in the same trace, and each step is a span under it.
    handled = one(spans, "fulfil OrderPlaced")
    assert (parent(handled), handled.kind) == (placed, "consumer")
    assert handled.attributes["tally.correlation_id"] == correlation_id
    assert handled.attributes["tally.order_id"] == order_id
    for step in ("ReserveStock", "RecordAuthorization", "ConfirmOrder"):
        span = one(spans, f"command {step}")
        assert parent(span) == handled, step
        assert span.attributes["tally.correlation_id"] == correlation_id
        assert span.attributes["tally.causation_id"] != correlation_id  # the event's id
    assert parent(one(spans, "payment authorize")) == handled

    # The events fulfilment appended carry the trace on: the stock view's batch that
    # applied the reservation is a child of ReserveStock's append.
    reserve = one(spans, "command ReserveStock")
    stock_append = next(s for s in named(spans, "append STOCK") if parent(s) == reserve)
    stock_batch = next(
        s for s in named(spans, "project stock") if (TRACE_ID, stock_append.span_id) in s.links
    )
    assert parent(stock_batch) == stock_append
    assert not [s.name for s in spans if s.error], "no span failed"
