"""Per-request metrics and the optional access log, in one pass of ASGI middleware.

The access log is one structured line per request (off by default: `TALLY_ACCESS_LOG`);
the route label is the route's template, never the raw path, so metrics stay bounded.
"""

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tally.metrics import Metrics

access_log = logging.getLogger("tally.access")


class ObserveRequests:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, log_requests: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = route.path if isinstance(route, Route) else "unmatched"
            method = scope["method"]
            self.metrics.request_observed(method, template, status, elapsed)
            if self.log_requests:
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )


def metrics_route(metrics: Metrics) -> Route:
    async def render(request: Request) -> Response:
        await metrics.refresh()  # the probes: readiness, and lag where the projectors run
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", render, methods=["GET"])
