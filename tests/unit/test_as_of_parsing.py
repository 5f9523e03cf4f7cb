"""`?as_of=`: a position of any stream (the route says which it answers) or an RFC 3339
date-time with an offset, read in UTC; anything else is refused with what is expected."""

from datetime import UTC, datetime

import pytest

from events.subjects import Position
from read_side.temporal import parse_as_of


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("ORDERS:42", Position("ORDERS", 42)),
        ("STOCK:0", Position("STOCK", 0)),
        ("2026-11-30T10:00:00Z", datetime(2026, 11, 30, 10, tzinfo=UTC)),
        ("2026-11-30t10:00:00z", datetime(2026, 11, 30, 10, tzinfo=UTC)),
        ("2026-11-30T12:00:00+02:00", datetime(2026, 11, 30, 10, tzinfo=UTC)),
        ("2026-11-30T10:00:00.123456789Z", datetime(2026, 11, 30, 10, 0, 0, 123456, UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00+01:00", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31T23:59:59-01:00", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_points_that_are_read(text: str, point: object) -> None:
    assert parse_as_of(text) == point


@pytest.mark.parametrize(
    "text",
    ["ORDERS", "ORDERS:x", "ORDERS:-1", "NOPE:1", "yesterday", "2026-11-30",
     "2026-11-30T10:00:00", "2026-13-01T00:00:00Z", "2026-11-30T10:00:00Zjunk", ""],
)  # fmt: skip
def test_anything_else_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="ORDERS:42"):
        parse_as_of(text)
