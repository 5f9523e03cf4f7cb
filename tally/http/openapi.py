"""GET /openapi.json (OpenAPI 3.1 assembled from each side's route descriptions, which come
from the pydantic models that validate requests) and GET /docs (Swagger UI, served from the
swagger-ui-bundle package, so it works offline)."""

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from http_edge.openapi import PROBLEM_SCHEMA
from http_edge.problems import TYPE_PREFIX
from tally.http.links import add_links

PathsProvider = Callable[[], tuple[dict[str, Any], dict[str, Any]]]


def _ops_paths(problem_codes: Sequence[str]) -> dict[str, Any]:
    def plain(summary: str, media: str, unavailable: bool = False) -> dict[str, Any]:
        responses: dict[str, Any] = {"200": {"description": "OK", "content": {media: {}}}}
        if unavailable:
            responses["503"] = {
                "description": "A dependency is failing (named in `failing`)",
                "content": {"application/json": {}},
            }
        return {"get": {"summary": summary, "tags": ["operations"], "responses": responses}}

    paths = {
        "/health": plain("The process is alive", "application/json"),
        "/ready": plain("Every dependency answers", "application/json", unavailable=True),
        "/metrics": plain("Prometheus metrics", "text/plain"),
    }
    if problem_codes:
        page = plain("What a problem type means (the `type` of an error answer)", "text/plain")
        code = {"type": "string", "enum": sorted(problem_codes)}
        page["get"]["parameters"] = [
            {"name": "code", "in": "path", "required": True, "schema": code}
        ]
        paths[TYPE_PREFIX + "{code}"] = page
    return paths


def build_openapi(
    providers: Sequence[PathsProvider], problem_codes: Sequence[str] = ()
) -> dict[str, Any]:
    paths = _ops_paths(problem_codes)
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    for provider in providers:
        more_paths, more_schemas = provider()
        for path, item in more_paths.items():
            paths.setdefault(path, {}).update(item)
        schemas.update(more_schemas)
    add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tally",
            "version": "1",
            "description": "Event-sourced orders and stock: POST commands append events to "
            "NATS JetStream; GET queries read PostgreSQL views built from them.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
DOCS_INIT = (
    'window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", '
    "deepLinking: true});\n"
)


def openapi_routes(
    providers: Sequence[PathsProvider],
    secure: Callable[[dict[str, Any]], None] | None = None,
    problem_codes: Sequence[str] = (),
) -> list[BaseRoute]:
    built = build_openapi(providers, problem_codes)
    if secure is not None:  # the bearer security scheme, when API tokens are on
        secure(built)
    document = json.dumps(built).encode()

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_PAGE)

    async def init(request: Request) -> Response:
        return Response(DOCS_INIT, media_type="text/javascript")

    static = StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path))
    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/init.js", init, methods=["GET"]),
        Mount("/docs/static", app=static),
    ]
