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

PathsProvider = Callable[[], tuple[dict[str, Any], dict[str, Any]]]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `type` ends with the problem's code",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "pointer": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}


def _ops_paths() -> dict[str, Any]:
    def plain(summary: str, media: str, unavailable: bool = False) -> dict[str, Any]:
        responses: dict[str, Any] = {"200": {"description": "OK", "content": {media: {}}}}
        if unavailable:
            responses["503"] = {
                "description": "A dependency is failing (named in `failing`)",
                "content": {"application/json": {}},
            }
        return {"get": {"summary": summary, "tags": ["operations"], "responses": responses}}

    return {
        "/health": plain("The process is alive", "application/json"),
        "/ready": plain("Every dependency answers", "application/json", unavailable=True),
        "/metrics": plain("Prometheus metrics", "text/plain"),
    }


def build_openapi(providers: Sequence[PathsProvider]) -> dict[str, Any]:
    paths = _ops_paths()
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    for provider in providers:
        more_paths, more_schemas = provider()
        for path, item in more_paths.items():
            paths.setdefault(path, {}).update(item)
        schemas.update(more_schemas)
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
) -> list[BaseRoute]:
    built = build_openapi(providers)
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
