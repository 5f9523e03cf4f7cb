"""The API's routes found by a dict instead of Starlette's `Router` trying each route's
regex in turn (up to ~25 a request, a few µs each).

Each plain route whose parameters are one path segment each (`{order_id}`, `{sku}`) is
filed under its number of segments and its first one (`POST /orders/{id}/cancel`:
(4, "orders")); a request looks at the few routes filed under its own, in the router's
order, and compares their literal segments. Whatever the table cannot file (a `Mount`, a
`{name:path}` parameter, a first segment that is a parameter) is tried by its own
`matches` among them, in the router's order too. The first route that matches path and
method is the one the router would have taken, and it is called as the router calls it.
Anything else (a path no route matches, a method the route does not take, a trailing
slash to redirect, a `root_path`) goes to the router itself, so that 404, 405 and
redirects stay exactly as they were.
"""

from collections.abc import Sequence
from typing import Any

from starlette.convertors import StringConvertor
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


class _Filed:
    """A route as the table matches it: its literal segments and where its parameters are
    (the path split on "/")."""

    __slots__ = ("app", "endpoint", "literals", "methods", "params_at", "route")

    def __init__(self, route: Route, segments: list[str | None], names: list[str]) -> None:
        self.route = route
        self.app = route.app  # what `route.handle` calls once the method is allowed
        self.endpoint = route.endpoint
        self.methods = route.methods
        self.literals = [(at, part) for at, part in enumerate(segments) if part is not None]
        at_params = [at for at, part in enumerate(segments) if part is None]
        self.params_at = list(zip(names, at_params, strict=True))

    def params(self, parts: list[str]) -> dict[str, Any] | None:
        """The path parameters when `parts` (the path split on "/") is this route's."""
        for at, literal in self.literals:
            if parts[at] != literal:
                return None
        params: dict[str, Any] = {}
        for name, at in self.params_at:
            value = parts[at]
            if not value:
                return None
            params[name] = value
        return params


def _segments(route: BaseRoute) -> tuple[list[str | None], list[str]] | None:
    """`route`'s path split on "/" with its parameters as None, and their names; None
    when the table cannot match it segment by segment."""
    if type(route) is not Route:
        return None
    segments: list[str | None] = []
    names: list[str] = []
    for part in route.path.split("/"):
        if "{" not in part and "}" not in part:
            segments.append(part)
            continue
        name = part[1:-1]
        convertor = route.param_convertors.get(name)
        if not (part.startswith("{") and part.endswith("}")) or convertor is None:
            return None  # a parameter inside a segment, or a typed one ({x:int})
        if type(convertor) is not StringConvertor:
            return None
        segments.append(None)
        names.append(name)
    if len(segments) < 2 or segments[1] is None:
        return None
    return segments, names


class RouteTable:
    """`router`'s routes behind a dict; the router answers what the table does not."""

    def __init__(self, router: Router) -> None:
        self.router = router
        table: dict[tuple[int, str], list[tuple[int, _Filed | BaseRoute]]] = {}
        unfiled: list[tuple[int, _Filed | BaseRoute]] = []
        for index, route in enumerate(router.routes):
            found = _segments(route)
            if found is None:
                unfiled.append((index, route))
                continue
            segments, names = found
            assert isinstance(route, Route) and segments[1] is not None
            key = (len(segments), segments[1])
            table.setdefault(key, []).append((index, _Filed(route, segments, names)))
        # every list in the router's order, the unfiled routes among the filed ones
        self._table = {
            key: [entry for _, entry in sorted([*filed, *unfiled], key=lambda item: item[0])]
            for key, filed in table.items()
        }
        self._unfiled = [entry for _, entry in unfiled]

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if (
            scope["type"] != "http"
            or scope.get("root_path")
            or not path.startswith("/")
            or "\n" in path
        ):
            await self.router(scope, receive, send)
            return
        parts = path.split("/")
        candidates = self._table.get((len(parts), parts[1]), self._unfiled)
        method = scope["method"]
        for entry in candidates:
            if isinstance(entry, _Filed):
                params = entry.params(parts)
                if params is None or (entry.methods and method not in entry.methods):
                    continue
                scope.setdefault("router", self.router)
                scope["route"] = entry.route
                scope["endpoint"] = entry.endpoint
                known = scope.get("path_params")
                scope["path_params"] = {**known, **params} if known else params
                await entry.app(scope, receive, send)  # the method is allowed: as `handle`
                return
            match, child = entry.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self.router)
                scope["route"] = entry
                scope.update(child)
                await entry.handle(scope, receive, send)
                return
        await self.router(scope, receive, send)


def route_table(routes: Sequence[BaseRoute]) -> RouteTable:
    return RouteTable(Router(routes=list(routes)))
