"""GET /metrics: the process's Prometheus registry (the requests are observed by the
API's one ASGI layer, `edge.py`)."""

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tally.metrics import Metrics


def metrics_route(metrics: Metrics) -> Route:
    async def render(request: Request) -> Response:
        await metrics.refresh()  # the probes: readiness, and lag where the projectors run
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", render, methods=["GET"])
