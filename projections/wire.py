"""Messages of one subscription taken straight off nats-py's protocol parser, as bytes.

nats-py turns every delivered message into a `Msg`: it parses the header block into a dict
(a generic parser, ~10 µs for Tally's six headers), decodes subject and reply, queues the
`Msg` and wakes a task that awaits the callback. For a projector reading 500-message batches
that was most of its time (docs/benchmarks.md). A `RawInbox` keeps nats-py for everything
else (connecting, authentication, reconnects and re-subscribing) and only routes the
messages of its own inbox subscription to a plain function, with subject, reply, header
block and body as the parser left them; headers are then read from the bytes here, once.

The hooks are the client's `_process_msg` and its parser's `parse` (nats-py 2.16), whose
runs of messages are read by `projections.wire_parser`; `tests/integration/views/
test_wire.py` runs them against a real server so that an upgrade that moves them fails loudly.
"""

import logging
import re
from collections.abc import Callable
from typing import Any, cast

from nats.aio.client import Client as NATS
from nats.aio.subscription import Subscription

from projections import wire_parser

RawSink = Callable[[bytes, bytes, bytes | None, bytes], None]
"""(subject, reply, header block or None, body) of one message."""
_STATUS_LINE = b"NATS/1.0 "
_HEADER_LINE = re.compile(r"([^:\r\n]+):[ \t]*([^\r\n]*)\r\n")
_DISPATCH = "_tally_raw_sinks"
log = logging.getLogger("tally.projections.wire")


def _dispatcher(nc: NATS) -> dict[int, RawSink]:
    """The per-connection table of raw sinks by subscription id, installed once: the
    client's message handler is wrapped, and its parser fronted by `wire_parser`, so that
    other subscriptions are untouched."""
    sinks: dict[int, RawSink] | None = getattr(nc, _DISPATCH, None)
    if sinks is not None:
        return sinks
    table: dict[int, RawSink] = {}
    original = nc._process_msg

    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        # nats-py annotates `headers` as bytes and passes None when there are none
        sink = table.get(sid)
        if sink is None:
            await original(sid, subject, reply, data, headers)
            return
        try:
            sink(subject, reply, headers, data)
        except Exception:  # never into nats-py's read loop, which would reconnect
            _failed(subject)

    async def forward(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        # looked up at each call: whoever wraps `_process_msg` later (write_side.raw_inbox)
        # gets the messages of their subscriptions
        await nc._process_msg(sid, subject, reply, data, cast(bytes, headers))

    nc._process_msg = process_msg  # type: ignore[method-assign]
    wire_parser.install(nc._ps, table, forward, _failed)
    setattr(nc, _DISPATCH, table)
    return table


def _failed(subject: bytes) -> None:
    log.exception("a raw message sink failed", extra={"subject": subject.decode()})


class RawInbox:
    """An inbox subscription whose messages go to `sink` without nats-py's `Msg` path."""

    def __init__(self, nc: NATS, sink: RawSink) -> None:
        self._nc = nc
        self._sink = sink
        self.subject = nc.new_inbox()
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        async def never(msg: Any) -> None:  # pragma: no cover - the sink takes them all
            pass

        table = _dispatcher(self._nc)
        self._subscription = await self._nc.subscribe(self.subject, cb=never)
        table[self._subscription._id] = self._sink

    async def close(self) -> None:
        if self._subscription is not None:
            _dispatcher(self._nc).pop(self._subscription._id, None)
            await self._subscription.unsubscribe()
            self._subscription = None


def status_of(headers: bytes | None) -> tuple[str, str, dict[str, str]] | None:
    """(code, description, headers) of a status message (`NATS/1.0 408 Request Timeout`
    and header lines), None for a message that carries data."""
    if headers is None or not headers.startswith(_STATUS_LINE):
        return None
    line, _, rest = headers[len(_STATUS_LINE) :].partition(b"\r\n")
    code, _, description = line.decode("utf-8", "replace").partition(" ")
    return code, description.strip(), parse_headers(b"\r\n" + rest)


def parse_headers(block: bytes | None) -> dict[str, str]:
    """`NATS/1.0\\r\\nName: value\\r\\n...\\r\\n\\r\\n` -> {name: value}; a repeated name keeps
    its last value (Tally writes each once)."""
    if not block:
        return {}
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip()] = value.strip()
    return headers


def ack_metadata(reply: str) -> tuple[str, int, int, int]:
    """(stream, stream sequence, deliveries, consumer sequence) from a JetStream ack subject
    (decoded once by the caller, which keeps it to acknowledge):
    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (9 tokens) or
    `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>...` (12 tokens)."""
    tokens = reply.split(".")
    if len(tokens) >= 12:
        return tokens[4], int(tokens[7]), int(tokens[6]), int(tokens[8])
    return tokens[2], int(tokens[5]), int(tokens[4]), int(tokens[6])
