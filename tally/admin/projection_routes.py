"""The admin API's pauses and replays, the same operations as `tally pause | resume` (both
call `tally.operator.pauses`); replays are asked for here and run by the projections worker
(`tally.roles.replay_worker`), never in the API process:

- `POST /admin/projections/{name}/pause`, `…/resume`: 200 `{name, paused}`;
- `POST /admin/projections/{name}/replay`: 202 `{replay_id}` (and `Location`), 409
  `replay-running` when one runs for that view (asked for here, or `tally replay`);
- `GET /admin/replays/{id}`: its state and progress;
- `DELETE /admin/replays/{id}`: 202, cancelled (the old view untouched); 409
  `replay-finished` when it is over.

An unknown view or replay is 404. PostgreSQL unreachable is 503, as everywhere.
"""

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from http_edge.problems import Problem, not_found
from projections.registry import PROJECTIONS
from tally.admin.servers import owner_connection
from tally.operator import replay_requests as replays
from tally.operator.pauses import set_paused

PROJECTIONS_PREFIX = "/admin/projections"
REPLAYS_PREFIX = "/admin/replays"
WHY = "pauses and replays are kept in the database"


def _view(request: Request) -> str:
    name = str(request.path_params["name"])
    if name not in PROJECTIONS:
        raise not_found(f"no projection {name!r}")
    return name


def _replay_id(request: Request) -> uuid.UUID:
    found = replays.replay_id(str(request.path_params["id"]))
    if found is None:
        raise not_found("no such replay")
    return found


class ProjectionRoutes:
    def __init__(self, database_url: str | None) -> None:
        self._database_url = database_url  # the owner's: these write

    def routes(self) -> list[Route]:
        view = PROJECTIONS_PREFIX + "/{name}"
        return [
            Route(view + "/pause", self.pause, methods=["POST"]),
            Route(view + "/resume", self.resume, methods=["POST"]),
            Route(view + "/replay", self.replay, methods=["POST"]),
            Route(REPLAYS_PREFIX + "/{id}", self.show, methods=["GET"]),
            Route(REPLAYS_PREFIX + "/{id}", self.cancel, methods=["DELETE"]),
        ]

    async def _paused(self, request: Request, paused: bool) -> Response:
        name = _view(request)
        async with owner_connection(self._database_url, WHY) as conn:
            return JSONResponse(await set_paused(conn, name, paused))

    async def pause(self, request: Request) -> Response:
        return await self._paused(request, True)

    async def resume(self, request: Request) -> Response:
        return await self._paused(request, False)

    async def replay(self, request: Request) -> Response:
        name = _view(request)
        async with owner_connection(self._database_url, WHY) as conn:
            try:
                asked = await replays.request_replay(conn, name)
            except replays.ReplayConflict as error:
                running = "A replay of the view is running"
                raise Problem(409, "replay-running", running, str(error)) from None
        location = f"{REPLAYS_PREFIX}/{asked}"
        return JSONResponse({"replay_id": str(asked)}, 202, headers={"Location": location})

    async def show(self, request: Request) -> Response:
        asked = _replay_id(request)
        async with owner_connection(self._database_url, WHY) as conn:
            shown = await replays.show_replay(conn, asked)
        return _found(asked, shown)

    async def cancel(self, request: Request) -> Response:
        asked = _replay_id(request)
        async with owner_connection(self._database_url, WHY) as conn:
            try:
                shown = await replays.cancel_replay(conn, asked)
            except replays.ReplayFinished as error:
                raise Problem(409, "replay-finished", "The replay is over", str(error)) from None
        return _found(asked, shown, 202)


def _found(asked: uuid.UUID, shown: dict[str, Any] | None, status: int = 200) -> Response:
    if shown is None:
        raise not_found(f"no replay {asked}")
    return JSONResponse(shown, status)
