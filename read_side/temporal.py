"""Reads as of a point (`?as_of=ORDERS:42` or an RFC 3339 time): the view's row folded
from the aggregate's own events up to that point, read from JetStream (batch direct get),
never from the view's tables, so any past state can be asked for without a replay.

The fold is the projection's own (`projections/as_of.py`, handed in by the composition
root: the read side does not import the projections); this module finds the messages:
up to a position of the view's stream (another stream's is `PositionOfAnotherStream`),
or up to the subject's last message stored at or before a time (the server's
`up_to_time`). The answer names the last position folded in `as_of`; None when the
aggregate did not exist yet at that point.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client as NATS

from events.subjects import STREAM_SUBJECTS, InvalidPosition, Position
from read_side.errors import PositionOfAnotherStream
from read_side.stream_reader import Stored, last_at, read_subject

ViewFold = Callable[[str, str, Sequence[Stored]], dict[str, Any] | None]
AsOf = Position | datetime

_POSITION = re.compile(rf"^({'|'.join(STREAM_SUBJECTS)}):[0-9]{{1,19}}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}")
_FRACTION = re.compile(r"(\.\d{6})\d+")  # datetime keeps microseconds
_LEAP_SECOND = re.compile(r"^(.{10}.\d{2}:\d{2}):60")  # RFC 3339 allows :60; read as :59


def parse_as_of(text: str) -> AsOf:
    """A position (`ORDERS:42`) or an RFC 3339 date-time with an offset (`Z`, `+02:00`);
    ValueError naming what is expected otherwise."""
    if _POSITION.fullmatch(text):
        try:
            return Position.parse(text)
        except InvalidPosition as error:
            raise ValueError(str(error)) from None
    if _TIME.match(text):
        try:
            iso = _LEAP_SECOND.sub(r"\1:59", _FRACTION.sub(r"\1", text.upper()))
            moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return _in_utc(moment)
    raise ValueError(
        f"not a position or an RFC 3339 time: {text!r} (expected e.g. 'ORDERS:42' or "
        "'2026-11-30T10:00:00Z')"
    )


def _in_utc(moment: datetime) -> datetime:
    """In UTC; a moment within a day of year 1 or 9999 whose UTC form has no date is
    clamped to the first or last representable one."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


class TemporalReads:
    def __init__(
        self,
        nc: NATS,
        folds: Mapping[str, ViewFold],
        streams: Mapping[str, str],
        *,
        timeout: float,
    ) -> None:
        self._nc = nc
        self._folds = dict(folds)  # projection name -> its fold of one aggregate's events
        self._streams = dict(streams)  # projection name -> the stream it is built from
        self._timeout = timeout

    async def row(self, projection: str, subject: str, as_of: AsOf) -> dict[str, Any] | None:
        """The view row of the aggregate on `subject` as of `as_of`, with `as_of` set to the
        last position folded; None when it had no row then."""
        stream = self._streams[projection]
        if isinstance(as_of, Position):
            if as_of.stream != stream:
                raise PositionOfAnotherStream(
                    f"{as_of} is in {as_of.stream}; this view is built from {stream}"
                )
            up_to: int | None = as_of.seq
        else:
            up_to = await last_at(self._nc, stream, subject, as_of, timeout=self._timeout)
        if not up_to:
            return None
        messages = await read_subject(self._nc, stream, subject, timeout=self._timeout, up_to=up_to)
        if not messages:
            return None
        row = self._folds[projection](stream, subject, messages)
        if row is None:
            return None
        row["as_of"] = str(Position(stream, messages[-1][0]))
        return row
