"""`GET /ops` (the page), `GET /ops/static/…` (its script and style, from the package) and
`GET /ops/events` (Server-Sent Events: one `snapshot` event a second from the process's
one feed; the first carries the rates of the last 10 minutes).

The page and its assets hold no data, so they are served like `/docs`; the events need
the `read` scope when tokens are on (the page sends the token it is given).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from tally.ops.feed import OpsFeed

STATIC = Path(__file__).with_name("static")


def ops_page_routes(feed: OpsFeed, stop: asyncio.Event | None = None) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "ops.html", headers={"Cache-Control": "no-cache"})

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 1000\n\n"
            async for snapshot in feed.snapshots(stop):  # Starlette ends it on disconnect
                data = json.dumps(snapshot, separators=(",", ":"))
                yield f"event: snapshot\ndata: {data}\n\n".encode()

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return [
        Route("/ops", page, methods=["GET"]),
        Route("/ops/events", events, methods=["GET"]),
        Mount("/ops/static", StaticFiles(directory=STATIC), name="ops-static"),
    ]
