"""The baseline: a trivial Starlette app served with the same uvicorn settings as Tally."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def post(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"ok": True, "size": len(body)}, status_code=202)


async def get(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "id": request.path_params["item"]})


app = Starlette(
    routes=[
        Route("/stock/{sku}/receive", post, methods=["POST"]),
        Route("/orders", post, methods=["POST"]),
        Route("/orders/{item}", get, methods=["GET"]),
    ]
)
