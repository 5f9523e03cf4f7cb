"""Events as the projections fold them: plain values (the JSON body as a dict, the occurrence
time as the RFC 3339 text it was written as), decoded once when a message arrives.

An event written by a Tally with the same event models, in its current version and with a
body its `Tally-Writer` mark matches (events/writer.py), is taken as it is: its body is
parsed with msgspec and nothing is validated again. Any other message (an older version,
another build's, a foreign publisher's, copied headers on another body) goes through
`events.codec.decode` exactly as before (validation, upcasting, and a `DecodeError` naming
the problem, which dead-letters it) and is then turned into the same plain values. The
folds and the SQL only ever see `Fact`s.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events.codec import RecordedEvent, decode
from events.envelope import (
    CORRELATION_ID,
    EVENT_TYPE,
    MSG_ID,
    OCCURRED_AT,
)
from events.writer import marked_body, marked_json
from projections.own_headers import OwnHeaders


@dataclass(slots=True)
class Fact:  # not frozen (treat it as immutable): see StoredMessage
    seq: int
    key: str  # the aggregate's id: the last token of the subject
    type: str  # the event's name, e.g. "OrderPlaced"
    data: dict[str, Any]  # the body in the current version, as JSON values
    occurred_at: str  # RFC 3339; PostgreSQL parses it
    correlation_id: str


def decode_fact(
    data: bytes, headers: Mapping[str, str], *, stream: str, seq: int, subject: str
) -> Fact:
    """The event of one stored message; raises `events.codec.DecodeError` as `decode` does."""
    body = marked_body(data, headers)
    if body is not None:
        occurred_at, correlation_id = headers.get(OCCURRED_AT), headers.get(CORRELATION_ID)
        if occurred_at and correlation_id and headers.get(MSG_ID):
            key = subject.rpartition(".")[2]
            return Fact(seq, key, headers[EVENT_TYPE], body, occurred_at, correlation_id)
    return from_recorded(decode(data, headers, stream=stream, seq=seq, subject=subject))


def own_fact(data: bytes, own: OwnHeaders, *, seq: int, subject: str) -> Fact | None:
    """`decode_fact`'s fast path on the six values of a block laid out as Tally writes it
    (`projections.own_headers`): the same `Fact`, or None where `decode_fact` would take
    the validating path (the caller then decodes with every header)."""
    msg_id, event_type, version, correlation_id, occurred_at, mark, _ = own
    # type, version and mark taken as they are: with whitespace around, they name no
    # current model or mark (None: the dict's path, which strips them)
    body = marked_json(data, mark, event_type, version)
    if body is None:
        return None
    occurred_at, correlation_id = occurred_at.strip(), correlation_id.strip()
    if not (occurred_at and correlation_id and msg_id.strip()):
        return None
    return Fact(seq, subject.rpartition(".")[2], event_type, body, occurred_at, correlation_id)


def from_recorded(recorded: RecordedEvent) -> Fact:
    """The plain values of a validated event (money as decimal strings, as on the wire)."""
    event = recorded.event
    return Fact(
        recorded.seq,
        recorded.aggregate_id,
        recorded.event_type,
        event.__pydantic_serializer__.to_python(event, mode="json"),
        recorded.envelope.occurred_text,
        recorded.envelope.correlation_id,
    )
