"""RFC 9457 problem details, the one shape of every error answer of the API.

The `type` of a problem is the relative URI `/problems/<code>`: it resolves against the
API that answered, which serves a short text for each code there (see `pages.py`), and it
ends with the code named in the contract (`concurrency-conflict`, `projection-lagging`...).
"""

import json
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "/problems/"
FieldError = dict[str, Any]


def problem_type(code: str) -> str:
    return TYPE_PREFIX + code


class Problem(Exception):
    """An error answer, raised from wherever the request is found wanting; the app's
    exception handlers turn it into its response (see `errors.py`)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> bytes:
        document: dict[str, Any] = {
            "type": problem_type(self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            document["errors"] = self.errors
        return json.dumps(document).encode()

    def response(self) -> Response:
        return Response(
            self.body(), status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers
        )


def invalid_fields(errors: list[FieldError]) -> Problem:
    """422 with one entry per invalid field, each naming it and its JSON pointer."""
    entries = [
        {"field": error["field"], "pointer": error.get("pointer", f"#/{error['field']}")}
        | {key: value for key, value in error.items() if key not in ("field", "pointer")}
        for error in errors
    ]
    return Problem(
        422,
        "validation-failed",
        "The request is not valid",
        f"{len(entries)} invalid field(s)",
        errors=entries,
    )


def invalid(field: str, message: str, code: str = "value_error") -> Problem:
    return invalid_fields([{"field": field, "message": message, "code": code}])


def validation_problem(error: ValidationError, *, whole: str = "body") -> Problem:
    """pydantic's errors as a 422; `whole` names what an error without location is about."""
    return invalid_fields(
        [
            {
                "field": ".".join(str(part) for part in item["loc"]) or whole,
                "pointer": "#/" + "/".join(str(part) for part in item["loc"]),
                "message": item["msg"],
                "code": item["type"],
            }
            for item in error.errors(include_url=False)
        ]
    )


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def service_unavailable(title: str, detail: str) -> Problem:
    """503 with `Retry-After: 1`: a dependency is down or slow; asking again may work."""
    return Problem(503, "service-unavailable", title, detail, headers={"Retry-After": "1"})
