"""A faster front for nats-py's protocol parser: runs of `MSG`/`HMSG` read by offsets.

nats-py's `Parser.parse` tries a regular expression per operation, copies each message out
of a `bytearray` it shrinks one message at a time, and awaits the client's `_process_msg`
coroutine for every one: ~5.7 µs per event-sized message here, a quarter of a projector's
work per event in a stock catch-up (docs/benchmarks.md, issue 14, session 9). This front
reads a chunk's messages by offsets (the control line split, the header block and the body
sliced out of one `bytes`), hands those of a raw sink's subscription to the sink directly
and awaits `_process_msg` for the others, as nats-py does.

Any other operation (PING, PONG, INFO, +OK, -ERR) is handed to nats-py's parser alone, line
by line, and a message that parser already began is left to it; a message not wholly here
yet waits in the parser's buffer for the next chunk. The parser's
state (`buf`, `state`) stays nats-py's, so a reconnect's `reset()` works as before.
"""

from collections.abc import Awaitable, Callable, Mapping

from nats.errors import ProtocolError
from nats.protocol.parser import AWAITING_CONTROL_LINE, Parser

# (subject, reply, header block or None, body) of one message
Sink = Callable[[bytes, bytes, bytes | None, bytes], None]
Forward = Callable[[int, bytes, bytes, bytes, bytes | None], Awaitable[None]]
Failed = Callable[[bytes], None]


def _split(line: bytes, with_headers: bool) -> tuple[bytes, int, bytes, int, int]:
    """(subject, sid, reply, header size, total size) of a control line's arguments."""
    args = line.split()
    try:
        if with_headers:
            if len(args) == 5:
                subject, sid, reply, header_size, size = args
            else:
                (subject, sid, header_size, size), reply = args, b""
            return subject, int(sid), reply, int(header_size), int(size)
        if len(args) == 4:
            subject, sid, reply, size = args
        else:
            (subject, sid, size), reply = args, b""
        return subject, int(sid), reply, 0, int(size)
    except ValueError:
        raise ProtocolError("nats: malformed MSG") from None


async def deliver(
    chunk: bytes, sinks: Mapping[int, Sink], forward: Forward, failed: Failed
) -> tuple[int, bool]:
    """Deliver the messages at the start of `chunk`: (bytes consumed, whether it stopped at
    another operation rather than at the end or at a message not wholly here)."""
    position, end_of_chunk = 0, len(chunk)
    while position < end_of_chunk:
        if chunk.startswith(b"HMSG ", position):
            skip = 5
        elif chunk.startswith(b"MSG ", position):
            skip = 4
        else:
            return position, True
        line_end = chunk.find(b"\r\n", position)
        if line_end < 0:
            return position, False
        line = chunk[position + skip : line_end]
        subject, sid, reply, header_size, size = _split(line, skip == 5)
        start = line_end + 2
        stop = start + size
        if stop + 2 > end_of_chunk:
            return position, False
        headers = chunk[start : start + header_size] if header_size else None
        body = chunk[start + header_size : stop]
        position = stop + 2
        sink = sinks.get(sid)
        if sink is None:
            await forward(sid, subject, reply, body, headers)
            continue
        try:
            sink(subject, reply, headers, body)
        except Exception:  # never into nats-py's read loop, which would reconnect
            failed(subject)
    return position, False


def install(parser: Parser, sinks: Mapping[int, Sink], forward: Forward, failed: Failed) -> None:
    """`parser.parse` replaced on this one parser object by the fast front; `forward`
    takes the messages of every other subscription (the client's `_process_msg`)."""
    generic = parser.parse

    async def parse(data: bytes = b"") -> None:
        if parser.state != AWAITING_CONTROL_LINE:  # a message nats-py began: its parser ends it
            await generic(data)
            return
        chunk = bytes(parser.buf) + data if parser.buf else bytes(data)
        while chunk:
            consumed, other = await deliver(chunk, sinks, forward, failed)
            chunk = chunk[consumed:]
            line_end = chunk.find(b"\r\n") if other else -1
            if line_end < 0:  # a message or an operation not wholly here yet
                break
            parser.buf = bytearray(chunk[: line_end + 2])  # that one operation, to nats-py
            await generic()
            chunk = bytes(parser.buf) + chunk[line_end + 2 :]
            if parser.state != AWAITING_CONTROL_LINE:  # pragma: no cover - not after a line
                parser.buf = bytearray(chunk)
                return
        parser.buf = bytearray(chunk)

    parser.parse = parse  # type: ignore[method-assign]
