"""Stored messages as the projections see them: sequence, subject, body, headers and the
subject to acknowledge them on; decoding into facts; atomic batch boundaries.

Readers decode each message as it arrives (`from_raw(..., decode=True)`): that CPU work
then overlaps with the projector waiting on PostgreSQL for the previous batch."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg

from events.codec import DecodeError
from projections.facts import Fact, decode_fact, own_fact
from projections.own_headers import alone, own_headers
from projections.wire import ack_metadata, parse_headers

BATCH_ID = "Nats-Batch-Id"
BATCH_COMMIT = "Nats-Batch-Commit"
_BATCH_ID = BATCH_ID.encode()


class StoredMessage:
    """One stored message; treat it as immutable. A plain slotted class (a frozen
    dataclass's `__init__` sets each field through `object.__setattr__`, ~1.3 µs of the
    projector's ~20 µs per message) whose headers are parsed from the delivered block when
    first asked for: an event Tally wrote is decoded from six of them
    (`projections.own_headers`), and most messages are never asked for the others."""

    __slots__ = (
        "_block",
        "_headers",
        "_unbatched",
        "consumer_seq",
        "data",
        "deliveries",
        "error",
        "fact",
        "reply",
        "seq",
        "stream",
        "subject",
    )

    def __init__(
        self,
        stream: str,
        seq: int,
        subject: str,
        data: bytes,
        headers: Mapping[str, str] | None = None,
        reply: str = "",
        deliveries: int = 1,
        fact: Fact | None = None,  # decoded on arrival, or
        error: str | None = None,  # why it could not be
        consumer_seq: int = 0,  # the delivering consumer's sequence (0: not known)
        *,
        block: bytes | None = None,  # the header block, parsed when `headers` is read
    ) -> None:
        self.stream = stream
        self.seq = seq
        self.subject = subject
        self.data = data
        self.reply = reply
        self.deliveries = deliveries
        self.fact = fact
        self.error = error
        self.consumer_seq = consumer_seq
        self._headers = headers if headers is not None or block is not None else {}
        self._block = block
        self._unbatched = False  # True: known to carry no atomic batch id (set on arrival)

    @property
    def headers(self) -> Mapping[str, str]:
        headers = self._headers
        if headers is None:
            headers = self._headers = parse_headers(self._block)
        return headers

    def may_be_in_batch(self) -> bool:
        """False when it carries no atomic batch id (read without parsing its headers)."""
        if self._unbatched:
            return False
        if self._headers is not None:
            return BATCH_ID in self._headers
        return self._block is not None and _BATCH_ID in self._block

    def decode(self) -> Fact:
        return decode_fact(
            self.data, self.headers, stream=self.stream, seq=self.seq, subject=self.subject
        )

    def _fields(self) -> tuple[object, ...]:
        return (
            self.stream,
            self.seq,
            self.subject,
            self.data,
            dict(self.headers),
            self.reply,
            self.deliveries,
            self.fact,
            self.error,
            self.consumer_seq,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredMessage):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value, as before

    def __repr__(self) -> str:
        return f"StoredMessage{self._fields()!r}"


def from_raw(
    subject: bytes, reply: bytes, header_block: bytes | None, data: bytes, *, decode: bool
) -> StoredMessage:
    """A message delivered by a consumer, as `projections.wire` hands it over; an event
    Tally wrote is decoded from its six headers, its other headers left in the block."""
    reply_text = reply.decode()
    stream, seq, deliveries, consumer_seq = ack_metadata(reply_text)
    text = subject.decode()
    message = StoredMessage(
        stream,
        seq,
        text,
        data,
        None,
        reply_text,
        deliveries,
        None,
        None,
        consumer_seq,
        block=header_block,
    )
    if decode:
        own = own_headers(header_block)
        if own is None:
            fact = None
        else:
            fact = own_fact(data, own, seq=seq, subject=text)
            message._unbatched = alone(own)
        if fact is None:
            try:
                fact = message.decode()
            except DecodeError as failure:
                message.error = str(failure)
        message.fact = fact
    return message


def from_msg(msg: Msg, *, decode: bool = False) -> StoredMessage:
    """A message delivered by a consumer; its sequence is read from the ack subject.

    `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (9 tokens) or
    `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>...` (12 tokens).
    """
    tokens = msg.reply.split(".")
    offset = 2 if len(tokens) >= 12 else 0
    stream, seq, headers = tokens[2 + offset], int(tokens[5 + offset]), msg.headers or {}
    fact: Fact | None = None
    error: str | None = None
    if decode:
        try:
            fact = decode_fact(msg.data, headers, stream=stream, seq=seq, subject=msg.subject)
        except DecodeError as failure:
            error = str(failure)
    return StoredMessage(
        stream,
        seq,
        msg.subject,
        msg.data,
        headers,
        msg.reply,
        int(tokens[4 + offset]),
        fact,
        error,
    )


@dataclass(frozen=True)
class Poison:
    message: StoredMessage
    error: str


def decode_all(messages: Sequence[StoredMessage]) -> tuple[list[Fact], list[Poison]]:
    events: list[Fact] = []
    poison: list[Poison] = []
    for message in messages:
        if message.fact is not None:
            events.append(message.fact)
            continue
        if message.error is not None:
            poison.append(Poison(message, message.error))
            continue
        try:
            events.append(message.decode())
        except DecodeError as error:
            poison.append(Poison(message, str(error)))
    return events, poison


def complete_prefix(messages: Sequence[StoredMessage]) -> int:
    """How many leading messages end outside an atomic batch: a batch whose commit message
    has not arrived yet is held back, so that it is applied in one transaction."""
    open_from: int | None = None
    for index, message in enumerate(messages):
        if message._unbatched or not message.may_be_in_batch():  # the first: no call
            open_from = None
            continue
        batch_id = message.headers.get(BATCH_ID)
        if batch_id is None or message.headers.get(BATCH_COMMIT) == "1":
            open_from = None
        elif open_from is None or messages[open_from].headers.get(BATCH_ID) != batch_id:
            open_from = index
    return len(messages) if open_from is None else open_from
