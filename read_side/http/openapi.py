"""The query routes described for the OpenAPI document, from the route table: parameters
from the pydantic models that validate them (`after` narrowed to the positions of the
route's own stream, the only ones it answers without an error), answers from
`schemas.py`. Problem answers refer to the Problem schema."""

from typing import Any

from http_edge.openapi import json_answer, model_schemas, problem_answer, query_parameters
from read_side.http.params import position_pattern
from read_side.http.table import QUERIES, QueryRoute

ERRORS = {
    400: "`after` or `as_of` names a position of another stream, or both are given",
    404: "Unknown order or SKU",
    422: "Invalid query parameter (one entry per parameter in `errors`)",
    503: "PostgreSQL or NATS unreachable, or `projection-lagging` (with Retry-After)",
}


def _parameters(route: QueryRoute) -> list[dict[str, Any]]:
    path = [parameter.openapi() for parameter in route.parameters]
    if route.query is None:
        return path
    narrowed: dict[str, Any] = {}  # `after` and `as_of` take the route's stream's positions
    if route.stream is not None:
        narrowed["after"] = {
            "type": "string",
            "pattern": position_pattern(route.stream),
            "examples": [f"{route.stream}:42"],
        }
        if "as_of" in route.query.model_fields:
            narrowed["as_of"] = {
                "anyOf": [
                    {"type": "string", "pattern": position_pattern(route.stream)},
                    {"type": "string", "format": "date-time"},
                ],
                "examples": [f"{route.stream}:42", "2026-11-30T10:00:00Z"],
            }
    return [*path, *query_parameters(route.query, narrowed)]


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, component schemas) of the query routes."""
    refs, definitions = model_schemas((route.answer, "serialization") for route in QUERIES)
    paths: dict[str, Any] = {}
    for route in QUERIES:
        responses = {"200": json_answer("OK", refs[(route.answer, "serialization")])}
        for status in sorted(route.errors):
            responses[str(status)] = problem_answer(ERRORS[status])
        operation: dict[str, Any] = {
            "summary": route.summary,
            "tags": [route.tag],
            "operationId": route.operation_id,
        }
        parameters = _parameters(route)
        if parameters:
            operation["parameters"] = parameters
        paths[route.path] = {"get": {**operation, "responses": responses}}
    return paths, definitions
