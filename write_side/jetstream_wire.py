"""JetStream publishes as bytes on the wire, their answers on one shared reply inbox.

nats-py's `js.publish` costs ~40 µs of CPU a message before the server sees it: a new
reply subject and future through the generic request path, `asyncio.wait_for`, the header
dict re-encoded key by key, one flusher wake-up (a Future and a Queue round) per message,
and the PubAck parsed through `PubAck.from_response`. Appending is what every command
pays, so here it is done once and plainly:

- a frame (`HPUB subject reply hdr_len total_len`, header block, payload) is made as bytes
  in one go; the frames queued in one loop iteration go to the socket in one write, so
  many commands in flight share it (nats-py's flusher takes a Future and a Queue round
  per message). Frames are sent only while connected, never buffered for after a
  reconnect: an append that was given up on must not be stored later;
- every request of the connection answers to `<inbox>.<n>` under one wildcard
  subscription, whose messages are taken off nats-py's parser as bytes
  (`write_side/raw_inbox.py`) and resolve a future found by token; a timer bounds each
  wait;
- one wire per connection (`JetStreamWire.of`): appends, direct gets and acks of the
  whole process share its queue, and nats-py's own commands queued meanwhile (a pull
  request, a PING) go in the same write, so the process writes to the socket once per
  loop iteration, not once for the wire and once more for nats-py's flusher;
- nats-py keeps the rest: connecting, authentication, reconnecting and re-subscribing
  (the inbox keeps its subscription id);
- the waits' time limits are kept by one timer (`write_side/deadlines.py`), not a timer
  per request, and a limit that passes while the loop is stalled gives the loop a moment
  to read the answers that came in meanwhile before it ends the wait.

The hooks are nats-py 2.16's internals (`_process_msg`, `_transport`);
`tests/integration/commands/test_jetstream_wire.py` runs them against a real server so that
an upgrade that moves them fails loudly.
"""

import asyncio
import itertools
from collections.abc import Callable, Mapping
from typing import NamedTuple

import nats.errors
from nats.aio.client import Client as NATS

from write_side.deadlines import Deadlines
from write_side.raw_inbox import RawInbox

_STATUS = b"NATS/1.0 "
_NEWLINES = str.maketrans("\r\n", "  ")
_SHARED = "_tally_wire"
Take = Callable[[bytes | None, bytes], bool]
"""Takes one message answering a request (header block or None, body); True once the
answer is complete (e.g. a direct get's end-of-batch status)."""


class Reply(NamedTuple):
    """What came back: the header block as sent (None without headers) and the body."""

    headers: bytes | None
    data: bytes

    @property
    def status(self) -> str | None:
        """`503` for `NATS/1.0 503` (no responders); None for a message with data."""
        if self.headers is None or not self.headers.startswith(_STATUS):
            return None
        return self.headers[len(_STATUS) : len(_STATUS) + 3].decode()


def header_block(headers: Mapping[str, str]) -> bytes:
    """`NATS/1.0\\r\\nName: value\\r\\n…\\r\\n` as the server reads it, written once; values
    stripped and line breaks inside one made spaces, as nats-py does."""
    block = "".join(
        ["NATS/1.0\r\n", *[f"{name}: {value.strip()}\r\n" for name, value in headers.items()]]
    )
    if block.count("\n") != len(headers) + 1 or block.count("\r") != len(headers) + 1:
        block = "NATS/1.0\r\n" + "".join(
            [f"{name}: {value.strip().translate(_NEWLINES)}\r\n" for name, value in headers.items()]
        )
    return (block + "\r\n").encode()


class JetStreamWire:
    """Requests and publishes of one connection; `start()` before the first."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox() + "."
        self._raw_prefix = self._prefix.encode()
        self._tokens = itertools.count(1)
        self._waiting: dict[bytes, asyncio.Future[Reply]] = {}
        self._streams: dict[bytes, Take] = {}  # requests answered by several messages
        self._inbox = RawInbox(nc, self._on_reply, subject=self._prefix + "*")
        self._started = False
        self._starting = asyncio.Lock()
        self._flush_scheduled = False
        self._queued: list[tuple[bytes, bytes]] = []  # (frame, reply subject)
        self._deadlines: Deadlines | None = None  # made on the loop of the first request

    @classmethod
    def of(cls, nc: NATS) -> "JetStreamWire":
        """The connection's shared wire (made on first use)."""
        wire: JetStreamWire | None = getattr(nc, _SHARED, None)
        if wire is None:
            wire = cls(nc)
            setattr(nc, _SHARED, wire)
        return wire

    async def start(self) -> None:
        async with self._starting:
            if self._started:
                return
            await self._inbox.start()
            # frames go to the socket directly: the SUB must be on it first (written, not
            # acknowledged: no round trip, which a stalled server would not answer)
            await self._nc._flush_pending(force_flush=True)
            self._started = True

    @property
    def started(self) -> bool:
        return self._started

    async def close(self) -> None:
        """Unsubscribes the inbox (requests still waiting time out)."""
        if self._started:
            self._started = False
            await self._inbox.close()

    async def request(
        self, subject: str, headers: bytes, payload: bytes, *, timeout: float
    ) -> Reply:
        """Sends one message with a reply subject; its answer, or TimeoutError."""
        token = str(next(self._tokens)).encode()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._waiting[token] = future
        self._send(subject.encode(), self._raw_prefix + token, headers, payload)
        self._limit(loop, future, timeout)
        try:
            return await future
        finally:
            self._waiting.pop(token, None)

    async def request_many(
        self, subject: str, headers: bytes, payload: bytes, take: Take, *, timeout: float
    ) -> None:
        """Sends one message with a reply subject and hands every message answering it to
        `take` until `take` says the answer is complete; what `take` raises is raised here.
        TimeoutError when the answer is not complete within `timeout`."""
        token = str(next(self._tokens)).encode()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()

        def on_message(headers: bytes | None, data: bytes) -> bool:
            if future.done():  # timed out: nobody reads this answer any more
                return True
            try:
                if not take(headers, data):
                    return False
            except Exception as error:  # raised to the caller, not into the read loop
                future.set_exception(error)
                return True
            future.set_result(Reply(None, b""))
            return True

        self._streams[token] = on_message
        self._waiting[token] = future
        self._send(subject.encode(), self._raw_prefix + token, headers, payload)
        self._limit(loop, future, timeout)
        try:
            await future
        finally:
            self._streams.pop(token, None)
            self._waiting.pop(token, None)

    def _limit(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Reply], timeout: float
    ) -> None:
        deadlines = self._deadlines
        if deadlines is None:
            deadlines = self._deadlines = Deadlines(loop)
        deadlines.add(future, timeout)

    def publish(self, subject: str, headers: bytes, payload: bytes, *, reply: str = "") -> None:
        """Sends one message, answered elsewhere if at all (an atomic batch's middle
        messages, a consumer's acks and pull requests); `headers` b"" for none."""
        self._send(subject.encode(), reply.encode(), headers, payload)

    def publish_raw(self, subject: bytes, payload: bytes) -> None:
        """`publish` without headers or reply, to a subject as it came off the wire (an ack
        to a delivery's reply subject)."""
        self._send(subject, b"", b"", payload)

    def _send(self, subject: bytes, reply: bytes, headers: bytes, payload: bytes) -> None:
        nc = self._nc
        if not nc.is_connected:
            # Never buffered for after a reconnect: an append given up on (answered 503)
            # must not be stored later behind the caller's back.
            raise nats.errors.ConnectionReconnectingError
        size = len(headers)
        if size:
            frame = b"HPUB %s %s %d %d\r\n%s%s\r\n" % (
                subject,
                reply,
                size,
                size + len(payload),
                headers,
                payload,
            )
        else:
            frame = b"PUB %s %s %d\r\n%s\r\n" % (subject, reply, len(payload), payload)
        self._queued.append((frame, reply))
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += len(payload)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """One write for every frame queued in this loop iteration, straight to the
        connection's transport, after what nats-py queued meanwhile (its flusher then finds
        nothing to write); if the connection went down meanwhile, nothing is sent and their
        requests fail at once (never replayed after a reconnect)."""
        self._flush_scheduled = False
        queued, self._queued = self._queued, []
        nc = self._nc
        transport = nc._transport
        if nc.is_connected and transport is not None:
            frames = [frame for frame, _ in queued]
            if nc._pending:  # nats-py's: a SUB, a pull request, a PING, written first
                frames[:0] = nc._pending
                nc._pending = []
                nc._pending_data_size = 0
            transport.writelines(frames)
            return
        for _, reply in queued:
            token = reply[len(self._raw_prefix) :]
            self._streams.pop(token, None)
            future = self._waiting.pop(token, None)
            if future is not None and not future.done():
                future.set_exception(nats.errors.ConnectionReconnectingError())

    def _on_reply(self, subject: bytes, reply: bytes, headers: bytes | None, data: bytes) -> None:
        token = subject[len(self._raw_prefix) :]
        stream = self._streams.get(token)
        if stream is not None:
            if stream(headers, data):
                self._streams.pop(token, None)
                self._waiting.pop(token, None)
            return
        future = self._waiting.pop(token, None)
        if future is not None and not future.done():
            future.set_result(Reply(headers, data))
