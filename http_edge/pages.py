"""`GET /problems/{code}`: what each problem type means, so that the `type` URI of every
error answer resolves. Each layer names the codes it answers with beside the errors it
maps; the app joins them. An unknown code is a 404 problem like any unknown path."""

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from http_edge.problems import TYPE_PREFIX, not_found

EDGE_PAGES: Mapping[str, str] = {
    "validation-failed": "One or more fields, parameters or headers are invalid; `errors` "
    "names each one (`field`, `pointer`) and why (`message`, `code`).",
    "malformed-json": "The body is not valid JSON.",
    "malformed-request": "The request itself is malformed (e.g. a Content-Length that is "
    "not a number).",
    "payload-too-large": "The body is over the limit of 64 KiB.",
    "not-found": "No such order, stock item or path.",
    "service-unavailable": "A dependency (NATS or PostgreSQL) is down or did not answer in "
    "time. Nothing is lost; ask again after `Retry-After` seconds.",
    "bad-request": "The request cannot be understood.",
    "method-not-allowed": "The path exists, but not with this method.",
    "http-error": "The request was refused by the HTTP layer; `detail` says why.",
    "internal-error": "Tally failed unexpectedly; the server log has the details.",
}


def problem_pages_route(pages: Mapping[str, str]) -> Route:
    texts = dict(sorted(pages.items()))

    async def page(request: Request) -> Response:
        code: str = request.path_params["code"]
        text = texts.get(code)
        if text is None:
            raise not_found(f"no problem type {code!r}")
        return PlainTextResponse(f"{TYPE_PREFIX}{code}\n\n{text}\n")

    return Route(TYPE_PREFIX + "{code}", page, methods=["GET"])
