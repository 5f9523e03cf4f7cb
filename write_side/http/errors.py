"""The one place write-side errors become HTTP answers: an entry per error type of
`write_side/errors.py`, joined with the other sides' by the app and looked up by type.
Beside it, the text of each problem code the write side answers with."""

from collections.abc import Mapping

from http_edge.errors import ErrorMap
from http_edge.problems import Problem, service_unavailable
from write_side.errors import (
    AggregateNotFound,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    RuleViolation,
    StoreUnavailable,
    WriteSideError,
)


def store_unavailable(detail: str) -> Problem:
    return service_unavailable("The event store is unavailable", detail)


def _reused(error: IdempotencyKeyReused) -> Problem:
    return Problem(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with another body",
        str(error),
        errors=[{"field": "Idempotency-Key", "message": str(error)}],
    )


def _in_progress(error: IdempotentRequestInProgress) -> Problem:
    return Problem(
        409,
        "request-in-progress",
        "The first request with this key is running",
        str(error),
        headers={"Retry-After": "1"},
    )


COMMAND_ERRORS = ErrorMap(
    {
        AggregateNotFound: lambda error: Problem(404, "not-found", "Not found", str(error)),
        ConcurrencyConflict: lambda error: Problem(
            409, "concurrency-conflict", "Concurrent changes kept conflicting", str(error)
        ),
        RuleViolation: lambda error: Problem(
            409, error.code, "The command was refused", error.detail
        ),
        IdempotencyKeyReused: _reused,
        IdempotentRequestInProgress: _in_progress,
        StoreUnavailable: lambda error: store_unavailable(str(error)),
        WriteSideError: lambda error: store_unavailable(f"unexpected: {error!r}"),
    }
)

COMMAND_PAGES: Mapping[str, str] = {
    "concurrency-conflict": "Other commands kept changing the same order or stock item "
    "while this one was decided, more times than it retries. Send it again.",
    "order-exists": "An order with this id already exists.",
    "order-final": "The order is rejected, cancelled or shipped: it can change no more.",
    "invalid-order-state": "The order is not in a state that allows this command (e.g. "
    "shipping an order that is not confirmed).",
    "insufficient-stock": "The adjustment would leave less stock on hand than is reserved.",
    "idempotency-key-reused": "This Idempotency-Key came earlier with another body, for "
    "the same method and path. Use a new key for a new request.",
    "request-in-progress": "The first request with this Idempotency-Key is still being "
    "processed; ask again after `Retry-After` seconds to get its answer.",
}
