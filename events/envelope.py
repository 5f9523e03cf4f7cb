"""The envelope: what we know about an event besides its data, carried in NATS headers."""

from datetime import UTC, datetime
from uuid import UUID

from events.clock import SecondClock
from events.ids import random_uuid_text

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


_CLOCK = SecondClock()


class Envelope:
    """Identity and lineage of one event.

    `correlation_id` ties together everything one request caused; `causation_id` names the
    event (or request) that directly caused this one; `traceparent` is the span that
    appended it, when tracing is on. `occurred_at` defaults to now.

    A slotted class, never changed once made (by convention; `with_traceparent` makes a
    changed copy): every appended event has one, and a frozen dataclass set each field
    through `object.__setattr__`. An envelope made now keeps its moment as the RFC 3339
    text its header carries (`occurred_text`, from a once-a-second clock) and makes the
    datetime only when asked; one given a datetime makes the text when asked. The event id
    likewise: a random one is made as text (`event_id_text`, what the header carries), its
    UUID only when asked; one given as a UUID makes its text when asked.
    """

    __slots__ = ("_at", "_id", "_id_text", "_text", "causation_id", "correlation_id", "traceparent")

    def __init__(
        self,
        event_id: UUID | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        occurred_at: datetime | None = None,
        traceparent: str | None = None,  # `00-<trace id>-<span id>-<flags>`, when traced
        *,
        event_id_text: str | None = None,
    ) -> None:
        if event_id is not None:
            self._id: UUID | None = event_id
            self._id_text: str | None = None
        else:
            self._id = None
            self._id_text = random_uuid_text() if event_id_text is None else event_id_text
        self.correlation_id: str = random_uuid_text() if correlation_id is None else correlation_id
        self.causation_id = causation_id
        self.traceparent = traceparent
        self._at = occurred_at
        self._text = _CLOCK.stamp() if occurred_at is None else None

    @property
    def event_id(self) -> UUID:
        made = self._id
        if made is None:
            made = self._id = UUID(self.event_id_text)
        return made

    @property
    def event_id_text(self) -> str:
        """`event_id` as its header carries it (`str(event_id)`)."""
        text = self._id_text
        if text is None:
            text = self._id_text = str(self._id)
        return text

    @property
    def occurred_at(self) -> datetime:
        at = self._at
        if at is None:
            at = self._at = parse_timestamp(self.occurred_text)
        return at

    @property
    def occurred_text(self) -> str:
        """`occurred_at` as RFC 3339 text in UTC with microseconds (`format_timestamp`)."""
        text = self._text
        if text is None:
            text = self._text = format_timestamp(self.occurred_at)
        return text

    def caused(self, event_id: UUID | None = None) -> "Envelope":
        """The envelope of an event caused by the one this envelope belongs to."""
        return Envelope(
            event_id=event_id,
            correlation_id=self.correlation_id,
            causation_id=self.event_id_text,
        )

    def with_traceparent(self, traceparent: str) -> "Envelope":
        """The same envelope, appended under the span `traceparent`."""
        copy = Envelope(
            self._id,
            self.correlation_id,
            self.causation_id,
            self._at,
            traceparent,
            event_id_text=self._id_text,
        )
        copy._text = self._text
        return copy

    def _key(self) -> tuple[object, ...]:
        return (
            self.event_id,
            self.correlation_id,
            self.causation_id,
            self.occurred_at,
            self.traceparent,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Envelope):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Envelope(event_id={self.event_id!r}, correlation_id={self.correlation_id!r}, "
            f"causation_id={self.causation_id!r}, occurred_at={self.occurred_at!r}, "
            f"traceparent={self.traceparent!r})"
        )
