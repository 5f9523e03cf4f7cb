"""The read side's errors. Library errors (asyncpg, SQLAlchemy, nats-py, timeouts) are
translated into these where the library is called (`views.py`, `stream_reader.py`);
`http/errors.py` maps them to HTTP."""

from events.subjects import Position


class ReadSideError(Exception):
    """Base of every error the read side raises on purpose."""


class ReadSideUnavailable(ReadSideError):
    """PostgreSQL or NATS is down or did not answer in time (HTTP 503)."""

    @classmethod
    def because(cls, error: BaseException) -> "ReadSideUnavailable":
        return cls(f"{type(error).__name__}: {error}"[:300])


class ViewsUnavailable(ReadSideUnavailable):
    """The read models' database failed or did not answer within the query timeout."""


class StreamUnavailable(ReadSideUnavailable):
    """JetStream failed or did not answer while a stream was read directly."""


class ProjectionLagging(ReadSideError):
    """The view has not applied the position asked for within the wait (HTTP 503)."""

    def __init__(self, projection: str, applied: Position, wanted: Position) -> None:
        super().__init__(f"{projection} has applied {applied}, not yet {wanted}")
        self.projection = projection
        self.applied = applied
        self.wanted = wanted


class PositionOfAnotherStream(ReadSideError):
    """`after` names a position of a stream the view is not built from (HTTP 400)."""


class AsOfWithAfter(ReadSideError):
    """`as_of` and `after` given together: a past state cannot wait for a write (HTTP 400)."""
