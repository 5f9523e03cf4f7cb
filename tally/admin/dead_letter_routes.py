"""The admin API's dead letters, the same operations as `tally dlq` (both call
`tally.operator.dead_letters`, so both give the same fields):

- `GET /admin/dead-letters?projection=&limit=&cursor=`: a page, in stream order, each
  with the events parked behind it;
- `GET /admin/dead-letters/{seq}`: one in full (payload, headers, the whole error);
- `POST /admin/dead-letters/{seq}/retry`: applied to its live view and removed, then the
  events parked behind it; or 409 `dead-letter-still-fails` with the new error (it stays);
- `POST /admin/dead-letters/{seq}/drop`: deleted (and recorded), the events parked behind
  it released.

An unknown sequence is 404. NATS or PostgreSQL unreachable is 503, as everywhere.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NATS
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from http_edge.problems import Problem, invalid, not_found
from projections.registry import PROJECTIONS
from tally.admin.servers import owner_connection, servers_answer
from tally.operator import dead_letters as letters

PREFIX = "/admin/dead-letters"
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
MAX_SEQ = 2**63 - 1


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise invalid(name, f"an integer from {low} to {high}", "int_parsing")
    return int(text)


def _seq(request: Request) -> int:
    text = request.path_params["seq"]
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_SEQ:
        raise not_found("no such dead letter")
    return int(text)


class DeadLetterRoutes:
    def __init__(self, nats_connection: Callable[[], Awaitable[NATS]], database_url: str | None):
        self._nats = nats_connection
        self._database_url = database_url  # the views' owner: a retry writes to a view

    def routes(self) -> list[Route]:
        return [
            Route(PREFIX, self.page, methods=["GET"]),
            Route(PREFIX + "/{seq}", self.show, methods=["GET"]),
            Route(PREFIX + "/{seq}/retry", self.retry, methods=["POST"]),
            Route(PREFIX + "/{seq}/drop", self.drop, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        projection = request.query_params.get("projection")
        if projection is not None and projection not in PROJECTIONS:
            raise invalid("projection", f"one of {', '.join(PROJECTIONS)}", "enum")
        limit = _int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        after = _int(request, "cursor", 0, 0, 2**63)
        async with servers_answer():
            js = (await self._nats()).jetstream()
            page = await letters.list_letters(js, projection, after=after, limit=limit + 1)
            async with self._database() as conn:
                parked = await letters.parked_of(conn, page[:limit]) if conn else {}
        items = [letters.item(letter, parked.get(letter.seq)) for letter in page[:limit]]
        more = len(page) > limit
        return JSONResponse(
            {"items": items, "next_cursor": str(items[-1]["seq"]) if more else None}
        )

    async def show(self, request: Request) -> Response:
        seq = _seq(request)
        async with servers_answer():
            letter = await letters.show_letter((await self._nats()).jetstream(), seq)
            if letter is None:
                raise not_found(f"no dead letter {seq}")
            async with self._database() as conn:
                parked = (await letters.parked_of(conn, [letter]))[seq] if conn else None
        return JSONResponse(letters.detail(letter, parked))

    async def retry(self, request: Request) -> Response:
        seq = _seq(request)
        why = "a retry writes to a view"
        async with owner_connection(self._database_url, why) as conn, servers_answer():
            js = (await self._nats()).jetstream()
            result = await letters.retry_letter(js, conn, seq)
        return _answer(result)

    async def drop(self, request: Request) -> Response:
        """Deleted; the events parked behind it are released (with a database)."""
        seq = _seq(request)
        async with servers_answer():
            js = (await self._nats()).jetstream()
            async with self._database() as conn:
                result = await letters.drop_letter(js, seq, conn)
        return _answer(result)

    @contextlib.asynccontextmanager
    async def _database(self) -> AsyncIterator[Any]:
        """A connection as the views' owner for one request; None without DATABASE_URL."""
        if self._database_url is None:
            yield None
            return
        async with owner_connection(self._database_url, "a drop releases parked events") as conn:
            yield conn


def _answer(result: letters.LetterResult) -> Response:
    if result.outcome == "not-found":
        raise not_found(f"no dead letter {result.seq}")
    if result.outcome == "failed":
        raise Problem(
            409,
            "dead-letter-still-fails",
            "The dead letter still fails",
            f"dead letter {result.seq} ({result.projection}): {result.error}",
        )
    body: dict[str, Any] = {**result.as_json(), "projection": result.projection}
    return JSONResponse(body)
