"""The batched info line: its context variables are exactly what structlog's
`get_contextvars` returns (read from structlog's own variables, which a structlog upgrade
must not move without this failing), and the line is the one `JsonLines` renders for the
same record, written once per loop iteration."""

import asyncio
import contextvars
import io
import json
import logging
from typing import TextIO, cast

import structlog

from tally import logging_setup
from tally.log_lines import BatchedLines
from tally.logging_setup import JsonLines, bound_context


def test_structlog_still_keeps_its_variables_by_name() -> None:
    assert logging_setup._BOUND is structlog.contextvars._CONTEXT_VARS


def test_the_bound_context_is_what_structlog_returns() -> None:
    structlog.contextvars.clear_contextvars()
    assert bound_context() == structlog.contextvars.get_contextvars() == {}
    tokens = structlog.contextvars.bind_contextvars(correlation_id="c-1", tenant=7)
    try:
        assert bound_context() == structlog.contextvars.get_contextvars()
        assert bound_context() == {"correlation_id": "c-1", "tenant": 7}
        structlog.contextvars.unbind_contextvars("tenant")
        assert bound_context() == structlog.contextvars.get_contextvars()
        assert bound_context() == {"correlation_id": "c-1"}
        other = contextvars.Context()  # a context where nothing was bound
        assert other.run(bound_context) == other.run(structlog.contextvars.get_contextvars)
        assert other.run(bound_context) == {}
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    assert bound_context() == structlog.contextvars.get_contextvars()


def _handler() -> tuple[logging.StreamHandler[TextIO], io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(cast(TextIO, stream))
    handler.setFormatter(JsonLines(processors=[structlog.processors.JSONRenderer()]))
    return handler, stream


def test_the_batched_line_is_the_json_line_of_the_same_record() -> None:
    handler, stream = _handler()
    tokens = structlog.contextvars.bind_contextvars(correlation_id="c-2")
    try:
        fields = {"subject": "STOCK.SKU-1", "events": ["StockReceived"], "causation_id": None}
        record = logging.LogRecord(
            "write_side.x", logging.INFO, "p", 1, "command appended", (), None
        )
        record.__dict__.update(fields)
        expected = json.loads(handler.format(record))
        BatchedLines("write_side.x", handler)("command appended", fields)  # no loop: at once
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    written = json.loads(stream.getvalue())
    assert written.pop("timestamp").endswith("Z") and expected.pop("timestamp").endswith("Z")
    assert written == expected


class _CountedWrites(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_lines_of_one_loop_iteration_are_written_together() -> None:
    stream = _CountedWrites()
    handler = logging.StreamHandler(cast(TextIO, stream))
    handler.setFormatter(JsonLines(processors=[structlog.processors.JSONRenderer()]))
    lines = BatchedLines("write_side.x", handler)
    writes = stream.writes

    async def three() -> None:
        for n in range(3):
            lines("command appended", {"n": n})
        assert writes == []  # not yet: when the loop next turns
        await asyncio.sleep(0)

    asyncio.run(three())
    assert len(writes) == 1
    assert [json.loads(line)["n"] for line in stream.getvalue().splitlines()] == [0, 1, 2]
