"""RFC 9457 problem details for the query side (the same shape as the command side's,
written again here because the two sides never import each other)."""

import json
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

PROBLEM_BASE = "https://tally.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
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
        self.detail = detail or title
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return Response(
            json.dumps(body), status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers
        )


def invalid(field: str, message: str, code: str = "value_error") -> Problem:
    return invalid_fields([{"field": field, "message": message, "code": code}])


def invalid_fields(errors: list[dict[str, Any]]) -> Problem:
    for error in errors:
        error.setdefault("pointer", f"#/{error['field']}")
    return Problem(
        422,
        "validation-failed",
        "The request is not valid",
        f"{len(errors)} invalid field(s)",
        errors=errors,
    )


def from_validation(error: ValidationError) -> Problem:
    return invalid_fields(
        [
            {
                "field": ".".join(str(part) for part in item["loc"]) or "query",
                "message": item["msg"],
                "code": item["type"],
            }
            for item in error.errors(include_url=False)
        ]
    )


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def unavailable(detail: str) -> Problem:
    return Problem(
        503,
        "service-unavailable",
        "The read models are unavailable",
        detail,
        headers={"Retry-After": "1"},
    )


def lagging(detail: str, retry_after: int = 1) -> Problem:
    return Problem(
        503,
        "projection-lagging",
        "The view has not caught up with that position yet",
        detail,
        headers={"Retry-After": str(retry_after)},
    )


def wrong_stream(detail: str) -> Problem:
    return Problem(400, "position-of-another-stream", "The position names another stream", detail)
