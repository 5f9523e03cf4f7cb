"""The API's server spans: OpenTelemetry's ASGI middleware (a `traceparent` on the
request is continued, one is started otherwise), named after the route's template once
the router has matched it, with the request's correlation id as an attribute."""

from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def traced_app(app: ASGIApp, provider: TracerProvider) -> ASGIApp:
    """`app` behind a server span per request (no spans of its own per body chunk)."""
    return OpenTelemetryMiddleware(
        _NameByRoute(app),
        default_span_details=_method_only,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
    )


def _method_only(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name until the route is known: never the raw path (ids make it unbounded)."""
    return str(scope.get("method", "HTTP")), {}


class _NameByRoute:
    """Inside the server span: as the answer starts (the route matched by then, and the
    span still open: it ends with the body), names the span `METHOD /route/{template}`
    and adds the correlation id the API gave the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = trace.get_current_span()

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start" and span.is_recording():
                route = scope.get("route")
                if isinstance(route, Route):
                    span.update_name(f"{scope['method']} {route.path}")
                    span.set_attribute("http.route", route.path)
                correlation_id = scope.get("state", {}).get("correlation_id")
                if correlation_id:
                    span.set_attribute("tally.correlation_id", correlation_id)
            await send(message)

        await self.app(scope, receive, named)
