"""Every error the API can meet, mapped to its answer in one table: the HTTP edge's own
(problems, Starlette's routing errors), the write side's, the read side's. The API's one
ASGI layer (`edge.py`) answers every error a route raises with `error_response`, looked up
by type; what is in no table is a 500 `internal-error`, logged with its traceback."""

import logging
from collections.abc import Mapping

from starlette.requests import ClientDisconnect
from starlette.responses import Response

from http_edge.errors import EDGE_ERRORS, ErrorMap
from http_edge.pages import EDGE_PAGES
from http_edge.problems import Problem
from read_side.http.errors import QUERY_ERRORS, QUERY_PAGES
from tally.admin.pages import ADMIN_PAGES
from write_side.http.errors import COMMAND_ERRORS, COMMAND_PAGES

log = logging.getLogger("tally.http")

API_ERRORS: ErrorMap = EDGE_ERRORS | COMMAND_ERRORS | QUERY_ERRORS
GUARD_PAGES: Mapping[str, str] = {
    "unauthorized": "No API token was sent, or an unknown one: send "
    "`Authorization: Bearer <token>`.",
    "forbidden": "The token is valid but lacks the scope this route needs (`read` for "
    "queries, `write` for commands, `admin` for operational writes and `/admin`).",
    "rate-limited": "This client sent more commands per second than it may; ask again "
    "after `Retry-After` seconds.",
}
API_PAGES: Mapping[str, str] = {
    **EDGE_PAGES,
    **COMMAND_PAGES,
    **QUERY_PAGES,
    **GUARD_PAGES,
    **ADMIN_PAGES,
}


def error_response(
    error: Exception, method: str, path: str, errors: ErrorMap = API_ERRORS
) -> Response:
    """The answer to `error`, raised while serving `method path`."""
    problem = errors.problem(error)
    if problem is not None:
        return problem.response()
    if isinstance(error, ClientDisconnect):
        # The client closed the connection before its body was read (a truncated upload):
        # nobody is left to answer, and it is not a server error. 499, as nginx names it.
        log.info("client disconnected during %s %s", method, path)
        return Response(status_code=499)
    log.exception("unexpected error on %s %s", method, path, exc_info=error)
    return Problem(500, "internal-error", "Internal error", "see the server log").response()
