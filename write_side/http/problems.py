"""RFC 9457 problem details, and the one place write-side errors become HTTP answers."""

import json
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from write_side.errors import (
    AggregateNotFound,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    RuleViolation,
    StoreUnavailable,
    WriteSideError,
)

PROBLEM_BASE = "https://tally.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class HttpProblem(Exception):
    """An answer that is an error, raised from deep inside a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return Response(
            json.dumps(body),
            status_code=self.status,
            media_type=PROBLEM_JSON,
            headers=self.headers,
        )


def validation_problem(
    error: ValidationError, *, prefix: tuple[str | int, ...] = ()
) -> HttpProblem:
    errors = []
    for item in error.errors(include_url=False):
        location = (*prefix, *item["loc"])
        errors.append(
            {
                "field": ".".join(str(part) for part in location) or "body",
                "pointer": "#/" + "/".join(str(part) for part in location),
                "message": item["msg"],
                "code": item["type"],
            }
        )
    return HttpProblem(
        422,
        "validation-failed",
        "The request is not valid",
        f"{len(errors)} invalid field(s)",
        errors=errors,
    )


def from_write_side_error(error: WriteSideError) -> HttpProblem:
    match error:
        case AggregateNotFound():
            return HttpProblem(404, "not-found", "Not found", str(error))
        case ConcurrencyConflict():
            return HttpProblem(
                409, "concurrency-conflict", "Concurrent changes kept conflicting", str(error)
            )
        case RuleViolation(code=code, detail=detail):
            return HttpProblem(409, code, "The command was refused", detail)
        case IdempotencyKeyReused():
            return HttpProblem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused with another body",
                str(error),
                errors=[{"field": "Idempotency-Key", "message": str(error)}],
            )
        case IdempotentRequestInProgress():
            return HttpProblem(
                409,
                "request-in-progress",
                "The first request with this key is running",
                str(error),
                headers={"Retry-After": "1"},
            )
        case StoreUnavailable():
            return unavailable(str(error))
    return unavailable(f"unexpected: {error!r}")


def unavailable(detail: str) -> HttpProblem:
    return HttpProblem(
        503,
        "service-unavailable",
        "The event store is unavailable",
        detail,
        headers={"Retry-After": "1"},
    )
