"""The fulfilment consumer's deliveries, pulled through the connection's wire.

nats-py's `fetch()` makes a `Msg` per delivery, parses its header block with a generic
parser and its ack subject on demand, and wakes the fetching task per batch. Here the pull
requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`) go out in the wire's frames, the
deliveries come back as bytes to an inbox of their own (`write_side/raw_inbox.py`) and are
handed over as they arrive, as `Delivery` values; acks go out in the wire's frames too.

Credit is what has been asked for and not yet delivered. A request ends with its last
message or with a status: 408 (expired) and 409 (e.g. too many unacknowledged, a leader
change) give back what the server says is left of it (`Nats-Pending-Messages`; all of the
credit when it does not say); 503 means nobody answers for the consumer.

Requests die with their connection: a server restarted (or one that dropped us) answers
nothing for them, and the window would stay full of credit for ever. So the credit is
forgotten at once when the client has reconnected since the last request (nats-py counts
reconnects and re-sends the inbox's SUB itself), and whenever nothing was heard for
EXPIRES + 1 s (every request ends within EXPIRES with its last message or a 408, so
silence that long means none is alive). `outstanding()` applies both before it answers;
a request that did survive a reconnect only delivers a little beyond the window.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client as NATS

from events.envelope import EVENT_TYPE
from write_side.jetstream_wire import JetStreamWire
from write_side.raw_inbox import RawInbox, header_value, parse_headers

log = logging.getLogger("tally.fulfilment")
EXPIRES = 5.0  # an idle request ends with a 408 after this
_STATUS_LINE = b"NATS/1.0 "
_EVENT_TYPE = EVENT_TYPE.encode()


@dataclass(slots=True)
class Delivery:
    """One delivered message: where it is stored, how often it was delivered, the subject
    its acknowledgement goes to, and its event type (read off the header block alone: half
    of the deliveries are only acknowledged, and their other headers are never parsed).
    Never changed once made (not frozen: a frozen dataclass sets each field through
    object.__setattr__, on every delivery)."""

    subject: str
    block: bytes | None  # the header block as delivered
    data: bytes
    stream_seq: int
    deliveries: int
    reply: bytes
    event_type: str  # "unknown" without the header

    @property
    def headers(self) -> dict[str, str]:
        """Every header, parsed (on each call)."""
        return parse_headers(self.block)


def ack_metadata(reply: bytes) -> tuple[int, int]:
    """(stream sequence, deliveries) from a JetStream ack subject:
    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (9 tokens) or
    `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>…` (12 tokens)."""
    tokens = reply.split(b".")
    offset = 2 if len(tokens) >= 12 else 0
    return int(tokens[5 + offset]), int(tokens[4 + offset])


class PullFeed:
    """`deliver` is called with each delivery as it arrives (in nats-py's read loop: it must
    not block); `pull(n)` asks for n more."""

    def __init__(
        self, nc: NATS, stream: str, consumer: str, deliver: Callable[[Delivery], None]
    ) -> None:
        self._nc = nc
        self._wire = JetStreamWire.of(nc)
        self._inbox = RawInbox(nc, self._on_message)
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._deliver = deliver
        self.credit = 0
        self._heard = time.monotonic()
        self._reconnects = nc.stats["reconnects"]

    async def start(self) -> None:
        await self._inbox.start()

    async def close(self) -> None:
        await self._inbox.close()

    def outstanding(self) -> int:
        """The credit of requests still alive (the lost ones forgotten first)."""
        if self.credit > 0:
            reconnects = self._nc.stats["reconnects"]
            if reconnects != self._reconnects:
                self._reconnects = reconnects
                self.credit = 0
                log.info("pulling order events again after a reconnect")
            elif time.monotonic() - self._heard > EXPIRES + 1:
                self.credit = 0
                log.warning("pull requests unanswered for %.0f s, asking again", EXPIRES + 1)
        return self.credit

    def pull(self, batch: int) -> None:
        """Asks for `batch` more messages; a nats.errors.Error when not connected."""
        request = b'{"batch":%d,"expires":%d}' % (batch, int(EXPIRES * 1e9))
        self._wire.publish(self._next, b"", request, reply=self._inbox.subject)
        self.credit += batch
        self._heard = time.monotonic()
        self._reconnects = self._nc.stats["reconnects"]

    def settle(self, delivery: Delivery, answer: bytes) -> None:
        """`+ACK`, `-NAK …` or `+TERM` for `delivery` (a nats.errors.Error when not
        connected: the message comes back after the consumer's ack wait)."""
        self._wire.publish_raw(delivery.reply, answer)

    def _on_message(self, subject: bytes, reply: bytes, block: bytes | None, data: bytes) -> None:
        self._heard = time.monotonic()
        if block is not None and block.startswith(_STATUS_LINE):
            self._on_status(parse_headers(block))
            return
        self.credit = max(0, self.credit - 1)
        stream_seq, deliveries = ack_metadata(reply)
        kind = header_value(block, _EVENT_TYPE) or "unknown"
        self._deliver(Delivery(subject.decode(), block, data, stream_seq, deliveries, reply, kind))

    def _on_status(self, headers: dict[str, str]) -> None:
        status = headers.get("Status")
        if status in ("404", "408", "409"):
            left = headers.get("Nats-Pending-Messages")
            self.credit = max(0, self.credit - int(left)) if left else 0
            if status == "409":
                log.warning("pulling order events: %s", headers.get("Description", "409"))
        elif status == "503":
            self.credit = 0
            log.warning("pulling order events: no responders (is JetStream up?)")
        elif status != "100":  # 100: a heartbeat, not asked for
            log.warning("pulling order events: status %s", status)


def nak(delay: float) -> bytes:
    """The negative acknowledgement that brings a message back after `delay` seconds."""
    return b"-NAK " + json.dumps({"delay": int(delay * 1e9)}).encode()


ACKNOWLEDGE, TERMINATE = b"+ACK", b"+TERM"
