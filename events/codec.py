"""Bytes + headers <-> events. The only place that knows how an event looks on the wire."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from events.base import Event
from events.envelope import (
    CAUSATION_ID,
    CORRELATION_ID,
    EVENT_TYPE,
    EVENT_VERSION,
    MSG_ID,
    OCCURRED_AT,
    TRACEPARENT,
    Envelope,
    parse_timestamp,
)
from events.registry import CURRENT, upcast
from events.writer import WRITER, writer_mark


class DecodeError(ValueError):
    """A message that is not a valid Tally event; `reason` says why in a few words."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class RecordedEvent:
    """An event as read back from a stream, upcast to its current version."""

    stream: str
    seq: int
    subject: str
    event: Event
    envelope: Envelope

    @property
    def event_type(self) -> str:
        return self.event.event_type

    @property
    def aggregate_id(self) -> str:
        return self.subject.rpartition(".")[2]


def encode_data(event: Event) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


def encode_headers(event: Event, envelope: Envelope, data: bytes) -> dict[str, str]:
    headers = {
        MSG_ID: envelope.event_id_text,
        EVENT_TYPE: event.event_type,
        EVENT_VERSION: str(event.schema_version),
        CORRELATION_ID: envelope.correlation_id,
        OCCURRED_AT: envelope.occurred_text,
        WRITER: writer_mark(data),
    }
    if envelope.causation_id is not None:
        headers[CAUSATION_ID] = envelope.causation_id
    if envelope.traceparent is not None:
        headers[TRACEPARENT] = envelope.traceparent
    return headers


_LINE_BREAKS = str.maketrans("\r\n", "  ")


def _clean(value: str) -> str:
    """A free-form header value as a NATS header block carries it: stripped, with any line
    break inside made a space."""
    value = value.strip()
    return value.translate(_LINE_BREAKS) if "\r" in value or "\n" in value else value


def encode_header_lines(event: Event, envelope: Envelope, data: bytes) -> str:
    """The headers of `encode_headers`, in its order, as the lines of a NATS header block
    (`Name: value\r\n` each, values stripped and line breaks made spaces, as nats-py
    writes them), made in one go: what an append pays per event, without the dict."""
    text = (
        f"{MSG_ID}: {envelope.event_id_text}\r\n"
        f"{EVENT_TYPE}: {event.event_type}\r\n"
        f"{EVENT_VERSION}: {event.schema_version}\r\n"
        f"{CORRELATION_ID}: {_clean(envelope.correlation_id)}\r\n"
        f"{OCCURRED_AT}: {envelope.occurred_text}\r\n"
        f"{WRITER}: {writer_mark(data)}\r\n"
    )
    if envelope.causation_id is not None:
        text += f"{CAUSATION_ID}: {_clean(envelope.causation_id)}\r\n"
    if envelope.traceparent is not None:
        text += f"{TRACEPARENT}: {_clean(envelope.traceparent)}\r\n"
    return text


def encode(event: Event, envelope: Envelope) -> tuple[bytes, dict[str, str]]:
    data = encode_data(event)
    return data, encode_headers(event, envelope, data)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise DecodeError("missing-header", name)
    return value


def decode_envelope(headers: Mapping[str, str]) -> Envelope:
    try:
        event_id = UUID(_header(headers, MSG_ID))
        occurred_at: datetime = parse_timestamp(_header(headers, OCCURRED_AT))
    except ValueError as error:
        if isinstance(error, DecodeError):
            raise
        raise DecodeError("invalid-header", str(error)) from None
    return Envelope(
        event_id=event_id,
        correlation_id=_header(headers, CORRELATION_ID),
        causation_id=headers.get(CAUSATION_ID) or None,
        occurred_at=occurred_at,
        traceparent=headers.get(TRACEPARENT) or None,
    )


def decode_event(data: bytes, headers: Mapping[str, str]) -> Event:
    event_type = _header(headers, EVENT_TYPE)
    version_text = _header(headers, EVENT_VERSION)
    if not (version_text.isascii() and version_text.isdigit()):
        raise DecodeError("invalid-header", f"{EVENT_VERSION}={version_text!r}")
    model = CURRENT.get(event_type)
    if model is None:
        raise DecodeError("unknown-event-type", event_type)
    version = int(version_text)
    if not 1 <= version <= model.schema_version:
        raise DecodeError("unknown-schema-version", f"{event_type} v{version}")
    if version == model.schema_version:  # nothing to upcast: let pydantic parse the bytes
        try:
            return model.model_validate_json(data)
        except ValidationError:
            pass  # name the problem as the general path does (invalid JSON, not an object…)
    try:
        raw: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise DecodeError("invalid-json", str(error)) from None
    if not isinstance(raw, dict):
        raise DecodeError("invalid-json", "the body is not a JSON object")
    try:
        return model.model_validate(upcast(event_type, version, raw))
    except (ValidationError, LookupError) as error:
        raise DecodeError("invalid-data", str(error)) from None


def decode(
    data: bytes, headers: Mapping[str, str], *, stream: str, seq: int, subject: str
) -> RecordedEvent:
    """Decode one stored message; raises DecodeError for anything that is not a valid event."""
    return RecordedEvent(
        stream=stream,
        seq=seq,
        subject=subject,
        event=decode_event(data, headers),
        envelope=decode_envelope(headers),
    )
