"""The one table from errors to problem+json answers, looked up by the error's type along
its MRO (as Starlette looks up its exception handlers).

Each side contributes the entries for its own error hierarchy; the app joins the tables
and registers them once as Starlette exception handlers, so routes just raise. Code that
must hold an answer before Starlette sees it (an `Idempotency-Key` keeps the first answer,
errors included) asks the same table.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from http_edge.problems import Problem

ToProblem = Callable[[Any], Problem]
Handler = Callable[[Request, Exception], Awaitable[Response]]


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

    def handlers(self) -> dict[Any, Handler]:
        """Starlette `exception_handlers`: one per mapped type, all answering from this table."""

        async def answer(request: Request, error: Exception) -> Response:
            problem = self.problem(error)
            if problem is None:  # Starlette found a handler by MRO, so we do too
                raise error
            return problem.response()

        return {kind: answer for kind in self._entries}


HTTP_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed"}


def _from_http_exception(error: HTTPException) -> Problem:
    """Starlette's own errors (unknown path, method not allowed) in the same shape."""
    code = HTTP_CODES.get(error.status_code, "http-error")
    detail = str(error.detail)
    return Problem(error.status_code, code, detail, detail, headers=dict(error.headers or {}))


EDGE_ERRORS = ErrorMap({Problem: lambda problem: problem, HTTPException: _from_http_exception})
