"""The envelope: what we know about an event besides its data, carried in NATS headers."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from events.ids import random_uuid, random_uuid_text

MSG_ID = "Nats-Msg-Id"
EVENT_TYPE = "Tally-Event-Type"
EVENT_VERSION = "Tally-Event-Version"
CORRELATION_ID = "Tally-Correlation-Id"
CAUSATION_ID = "Tally-Causation-Id"
OCCURRED_AT = "Tally-Occurred-At"
# W3C Trace Context: the trace of the command that appended the event (only when tracing
# is on); whoever acts on the event continues that trace.
TRACEPARENT = "traceparent"

REQUIRED_HEADERS = (MSG_ID, EVENT_TYPE, EVENT_VERSION, CORRELATION_ID, OCCURRED_AT)


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: `2026-11-22T03:48:41.123456Z` (isoformat: a
    fifth of strftime's cost, on every event appended; a moment already in UTC, as
    `utc_now` and `parse_timestamp` make them, is not converted first)."""
    if moment.tzinfo is UTC:
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # without "+00:00"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Envelope:
    """Identity and lineage of one event.

    `correlation_id` ties together everything one request caused; `causation_id` names the
    event (or request) that directly caused this one; `traceparent` is the span that
    appended it, when tracing is on.
    """

    event_id: UUID = field(default_factory=random_uuid)
    correlation_id: str = field(default_factory=random_uuid_text)
    causation_id: str | None = None
    occurred_at: datetime = field(default_factory=utc_now)
    traceparent: str | None = None  # `00-<trace id>-<span id>-<flags>`, when traced

    def caused(self, event_id: UUID | None = None) -> "Envelope":
        """The envelope of an event caused by the one this envelope belongs to."""
        return Envelope(
            event_id=event_id or random_uuid(),
            correlation_id=self.correlation_id,
            causation_id=str(self.event_id),
        )
