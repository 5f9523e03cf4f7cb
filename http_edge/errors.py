"""The one table from errors to problem+json answers, looked up by the error's type along
its MRO (as Starlette looks up its exception handlers).

Each side contributes the entries for its own error hierarchy; the app joins the tables
and answers every error a route raises from them, so routes just raise. Code that
must hold an answer before the app answers it (an `Idempotency-Key` keeps the first answer,
errors included) asks the same table.
"""

from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException

from http_edge.problems import Problem

ToProblem = Callable[[Any], Problem]


class ErrorMap:
    def __init__(self, entries: Mapping[type[Exception], ToProblem]) -> None:
        self._entries = dict(entries)

    def __or__(self, other: "ErrorMap") -> "ErrorMap":
        overlap = set(self._entries) & set(other._entries)
        if overlap:
            raise ValueError(f"mapped twice: {sorted(kind.__name__ for kind in overlap)}")
        return ErrorMap({**self._entries, **other._entries})

    def problem(self, error: Exception) -> Problem | None:
        for kind in type(error).__mro__:
            to_problem = self._entries.get(kind)
            if to_problem is not None:
                return to_problem(error)
        return None


HTTP_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}


def _from_http_exception(error: HTTPException) -> Problem:
    """Starlette's own errors (unknown path, method not allowed) in the same shape."""
    code = HTTP_CODES.get(error.status_code, "http-error")
    detail = str(error.detail)
    return Problem(error.status_code, code, detail, detail, headers=dict(error.headers or {}))


EDGE_ERRORS = ErrorMap({Problem: lambda problem: problem, HTTPException: _from_http_exception})
