"""The one place read-side errors become HTTP answers: an entry per error type of
`read_side/errors.py`, joined with the other sides' by the app and looked up by type.
Beside it, the text of each problem code the read side answers with."""

from collections.abc import Mapping

from http_edge.errors import ErrorMap
from http_edge.problems import Problem, service_unavailable
from read_side.errors import (
    AsOfWithAfter,
    PositionOfAnotherStream,
    ProjectionLagging,
    ReadSideError,
    ReadSideUnavailable,
)


def _lagging(error: ProjectionLagging) -> Problem:
    return Problem(
        503,
        "projection-lagging",
        "The view has not caught up with that position yet",
        str(error),
        headers={"Retry-After": "1"},
    )


def _unavailable(detail: str) -> Problem:
    return service_unavailable("The read models are unavailable", detail)


QUERY_ERRORS = ErrorMap(
    {
        ReadSideUnavailable: lambda error: _unavailable(str(error)),
        ProjectionLagging: _lagging,
        PositionOfAnotherStream: lambda error: Problem(
            400, "position-of-another-stream", "The position names another stream", str(error)
        ),
        AsOfWithAfter: lambda error: Problem(
            400, "as-of-with-after", "`as_of` and `after` exclude each other", str(error)
        ),
        ReadSideError: lambda error: _unavailable(f"unexpected: {error!r}"),
    }
)

QUERY_PAGES: Mapping[str, str] = {
    "projection-lagging": "The view has not applied the position named by `after` within "
    "`wait` seconds. Ask again after `Retry-After` seconds.",
    "position-of-another-stream": "`after` or `as_of` names a position of a stream this "
    "view is not built from (e.g. a STOCK position on an order query).",
    "as-of-with-after": "`as_of` asks for a past state and `after` waits for a write to "
    "show: a request gives one or the other.",
}
