"""The envelope as a slotted class: an envelope made now carries its moment as the text of
`format_timestamp` (from the once-a-second clock) and the datetime that text names; one
given a moment formats it as before; equality, hashing and the traced copy are as the
frozen dataclass's were."""

import time
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock
from uuid import RFC_4122, UUID, uuid4

import pytest

from events.clock import SecondClock
from events.envelope import Envelope, format_timestamp, parse_timestamp

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize(
    "now",
    [
        1_795_000_000.0,  # a whole second: .000000
        1_795_000_000.123456,
        1_795_000_000.999999,
        1_795_003_599.5,  # the last second of an hour, then the next one
        1_795_003_600.25,
    ],
)
def test_the_clock_writes_what_format_timestamp_writes(now: float) -> None:
    clock = SecondClock()
    clock.stamp()  # a second cached before: the next one must format its own
    with mock.patch("events.clock.time.time", return_value=now):
        text = clock.stamp()
    moment = datetime.fromtimestamp(now, UTC)
    assert text[:20] == format_timestamp(moment)[:20]  # date, time of day and the dot
    assert text.endswith("Z") and len(text) == len(format_timestamp(moment))
    assert abs(parse_timestamp(text) - moment) < timedelta(microseconds=2)


def test_an_envelope_made_now_carries_the_text_of_its_moment() -> None:
    before = datetime.now(UTC)
    envelope = Envelope(correlation_id="c")
    after = datetime.now(UTC)
    assert before - timedelta(microseconds=1) <= envelope.occurred_at <= after
    assert envelope.occurred_text == format_timestamp(envelope.occurred_at)
    assert parse_timestamp(envelope.occurred_text) == envelope.occurred_at


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 4, 4, 5, 7, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_a_given_moment_is_kept_and_formatted_as_before(moment: datetime) -> None:
    envelope = Envelope(occurred_at=moment)
    assert envelope.occurred_at is moment
    assert envelope.occurred_text == format_timestamp(moment)


def test_defaults_and_given_values() -> None:
    first, second = Envelope(), Envelope()
    assert first.event_id != second.event_id and first.correlation_id != second.correlation_id
    assert first.causation_id is None and first.traceparent is None
    assert Envelope(correlation_id="").correlation_id == ""  # given, even empty: kept
    event_id = uuid4()
    assert Envelope(event_id, "c", "d").event_id is event_id


def test_equality_and_hash_are_by_value() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event_id = uuid4()
    one = Envelope(event_id, "c", "d", moment, TRACE)
    same = Envelope(event_id, "c", "d", moment, TRACE)
    assert one == same and hash(one) == hash(same)
    assert one != Envelope(event_id, "c", "d", moment)
    assert one != Envelope(event_id, "c", "e", moment, TRACE)
    made_now = Envelope(event_id, "c")
    from_text = Envelope(event_id, "c", occurred_at=parse_timestamp(made_now.occurred_text))
    assert made_now == from_text  # a decoded envelope equals the one that was encoded
    assert "occurred_at=" in repr(one) and str(event_id) in repr(one)


def test_the_traced_copy_changes_only_the_traceparent() -> None:
    envelope = Envelope(correlation_id="c", causation_id="d")
    time.sleep(0.002)
    traced = envelope.with_traceparent(TRACE)
    assert traced.traceparent == TRACE and envelope.traceparent is None
    assert traced.occurred_text == envelope.occurred_text
    assert (traced.event_id, traced.correlation_id, traced.causation_id) == (
        envelope.event_id,
        "c",
        "d",
    )


def test_a_caused_envelope_continues_the_correlation() -> None:
    parent = Envelope(correlation_id="c")
    child = parent.caused()
    assert child.correlation_id == "c" and child.causation_id == str(parent.event_id)
    assert child.event_id != parent.event_id


def test_a_random_event_id_is_made_as_its_text() -> None:
    envelope = Envelope(correlation_id="c")
    text = envelope.event_id_text
    assert envelope.event_id == UUID(text) and str(envelope.event_id) == text
    assert envelope.event_id.version == 4 and envelope.event_id.variant == RFC_4122
    assert envelope.caused().causation_id == text


def test_a_given_event_id_is_kept_and_written_as_its_text() -> None:
    event_id = uuid4()
    envelope = Envelope(event_id, "c")
    assert envelope.event_id is event_id and envelope.event_id_text == str(event_id)
    given_text = Envelope(None, "c", occurred_at=envelope.occurred_at, event_id_text=str(event_id))
    assert given_text == envelope and hash(given_text) == hash(envelope)
    traced = given_text.with_traceparent(TRACE)
    assert traced.event_id_text == str(event_id) and traced.event_id == event_id
