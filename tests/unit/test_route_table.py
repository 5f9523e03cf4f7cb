"""The route table takes the route Starlette's router would take, and leaves every other
answer (404, 405, a redirect of a trailing slash) to the router itself."""

from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from tally.http.route_table import RouteTable


def named(name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        route = request.scope["route"]
        return JSONResponse(
            {"name": name, "route": getattr(route, "path", None), **request.path_params}
        )

    return endpoint


class Asgi:
    """An endpoint that is an ASGI app itself (as the command routes are)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"asgi": scope["route"].path, **scope["path_params"]})(
            scope, receive, send
        )


def routes() -> list[BaseRoute]:
    return [
        Route("/orders", Asgi(), methods=["POST"]),
        Route("/orders", named("list"), methods=["GET"]),
        Route("/orders/{order_id}", named("one"), methods=["GET"]),
        Route("/orders/{order_id}/cancel", Asgi(), methods=["POST"]),
        Route("/orders/{order_id}/events", named("events"), methods=["GET"]),
        Route("/{anything}/events", named("shadowed"), methods=["GET"]),  # unfiled
        Route("/stock/{sku}/receive", Asgi(), methods=["POST"]),
        Route("/stock/{sku}", named("stock"), methods=["GET", "DELETE"]),
        Route("/n/{count:int}", named("int"), methods=["GET"]),  # unfiled: typed
        Route("/f/{rest:path}", named("path"), methods=["GET"]),  # unfiled: a path
        Route("/problems/{code}", named("problem"), methods=["GET"]),
        Route("/metrics", named("metrics"), methods=["GET"]),
        Route("/", named("root"), methods=["GET"]),
        Mount("/docs/static", routes=[Route("/{name}", named("static"))]),
        Route("/docs", named("docs"), methods=["GET"]),
        Route("/any/{x}", named("any methods")),  # endpoint function: GET and HEAD
    ]


REQUESTS = [
    (method, path)
    for method in ("GET", "POST", "HEAD", "DELETE", "PUT")
    for path in (
        "/",
        "/orders",
        "/orders/",
        "/orders/42",
        "/orders/42/",
        "/orders//cancel",
        "/orders/42/cancel",
        "/orders/42/events",
        "/other/events",
        "/orders/42/cancel/more",
        "/stock/SKU-1",
        "/stock/SKU-1/receive",
        "/stock/a%20b/receive",
        "/n/12",
        "/n/x",
        "/f/a/b/c",
        "/problems/not-found",
        "/metrics",
        "/metrics/",
        "/metrics%0A",  # the path "/metrics\n", which the regex takes
        "/docs",
        "/docs/static/app.js",
        "/any/1",
        "/nothing",
        "//",
    )
]


async def answer(app: Any, method: str, path: str) -> tuple[int, bytes, list[str]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.request(method, path, follow_redirects=False)
    kept = ("allow", "location", "content-type")
    return response.status_code, response.content, [response.headers.get(h, "") for h in kept]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
async def test_same_answer_as_the_router(method: str, path: str) -> None:
    table = RouteTable(Router(routes=routes()))
    assert await answer(table, method, path) == await answer(Router(routes=routes()), method, path)


async def test_filed_routes_are_found_without_the_router() -> None:
    table = RouteTable(Router(routes=routes()))

    async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError(f"the router was asked for {scope['path']}")

    table.router = refuse  # type: ignore[assignment]
    status, body, _ = await answer(table, "POST", "/orders/42/cancel")
    assert (status, body) == (200, b'{"asgi":"/orders/{order_id}/cancel","order_id":"42"}')
    status, body, _ = await answer(table, "GET", "/docs/static/app.js")  # the mount, unfiled
    assert status == 200
